package org.blockferry.engine.actor;

import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Consumer;
import org.blockferry.engine.copy.DiskComparison;
import org.blockferry.engine.endpoint.DiskLocation;
import org.blockferry.engine.source.DiskSource;
import org.blockferry.engine.source.SourceRequest;
import org.blockferry.engine.source.nbd.NbdDiskSource;
import org.blockferry.engine.target.CloudVolumeTarget;
import org.blockferry.engine.target.DiskTarget;
import org.blockferry.engine.target.NbdDiskTarget;
import org.blockferry.nbd.NbdOptions;

/** The two ends of a disk's copy: opened for the copy, and compared after it (option {@code verify}). */
final class DiskEndpoints {
    /** An opened source (which decided full or incremental) and target. */
    record Opened(DiskSource source, DiskTarget target) {
    }

    /** How a CloudStack target is provisioned: its record of the volume, and who hears of each step. */
    record Provisioning(String diskOffering, CloudVolumeTarget.Ledger ledger, Consumer<String> steps) {
    }

    private DiskEndpoints() {
    }

    /**
     * On a blocking thread: the source (maybe a local export with its bitmap, or a snapshot), its
     * size, then the target. Bad input fails before the target is touched. Both ends are opened
     * under the node's storage policy ({@link JobRuntime#tools()}), checked on their real paths
     * now, whatever was checked at submission.
     */
    static Opened open(SourceRequest request, DiskLocation target, String targetField, JobRuntime runtime,
                       Provisioning provisioning) {
        DiskSource opened = null;
        try {
            opened = SourceOpener.open(request, runtime.tools(), runtime.vmware());
            long size = opened.size();
            if (target instanceof DiskLocation.CloudVolume volume) {
                return new Opened(opened, CloudVolumeTarget.open(targetField, volume, size,
                        provisioning.diskOffering(), runtime.clouds().named(targetField, volume.cloud()),
                        provisioning.ledger(), provisioning.steps(), runtime.tools()));
            }
            return new Opened(opened, NbdDiskTarget.open(targetField, target, size, NbdOptions.DEFAULT,
                    runtime.tools()));
        } catch (IOException e) {
            closeQuietly(opened);
            throw new CompletionException(e);
        } catch (RuntimeException e) {
            closeQuietly(opened);
            throw e;
        }
    }

    /**
     * Compares the target, read through its own connection (a local file read-only; a provisioned
     * volume through its own export, still open), with the source.
     */
    static CompletableFuture<DiskComparison.Outcome> verify(DiskSource source, DiskTarget opened, DiskLocation target,
                                                            String field, JobRuntime runtime) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                if (opened instanceof CloudVolumeTarget volume) {
                    return NbdDiskSource.reading(volume.describe(), volume.uri(), volume.options());
                }
                return NbdDiskSource.open(field, target, NbdOptions.DEFAULT, runtime.tools());
            } catch (IOException e) {
                throw new CompletionException(e);
            }
        }, runtime.copy().blocking()).thenCompose(check -> DiskComparison.run(source, check, runtime.copySettings(),
                runtime.copy()).toCompletableFuture().whenComplete((o, e) -> check.close()));
    }

    private static void closeQuietly(DiskSource s) {
        if (s != null) {
            s.close();
        }
    }
}
