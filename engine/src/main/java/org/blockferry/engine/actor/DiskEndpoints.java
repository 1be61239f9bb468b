package org.blockferry.engine.actor;

import java.io.IOException;
import java.nio.file.Files;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
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
     * On blocking threads: the source (maybe a local export with its bitmap, or a snapshot), its
     * size, then the target. Bad input of the source fails before the target is written or
     * created: a local target file that exists is exported while the source opens (its export
     * writes nothing; its size is only needed to create it), and closed again if the source
     * fails. Both ends are opened under the node's storage policy ({@link JobRuntime#tools()}),
     * checked on their real paths now, whatever was checked at submission.
     */
    static CompletableFuture<Opened> open(SourceRequest request, DiskLocation target, String targetField,
                                          JobRuntime runtime, Provisioning provisioning) {
        Executor blocking = runtime.copy().blocking();
        if (!(target instanceof DiskLocation.LocalImage local) || !Files.exists(local.path())) {
            return CompletableFuture.supplyAsync(() -> {
                DiskSource source = openSource(request, runtime);
                return new Opened(source, openTarget(source, target, targetField, runtime, provisioning));
            }, blocking);
        }
        // Two tasks, neither waiting for the other on the bounded pool; once both have ended, a third joins them.
        CompletableFuture<DiskSource> source = CompletableFuture.supplyAsync(() -> openSource(request, runtime),
                blocking);
        CompletableFuture<Optional<NbdDiskTarget>> early = CompletableFuture.supplyAsync(() -> {
            try {
                return NbdDiskTarget.openExisting(targetField, local, NbdOptions.DEFAULT, runtime.tools());
            } catch (IOException e) {
                throw new CompletionException(e);
            }
        }, blocking);
        return CompletableFuture.allOf(source, early).handle((v, e) -> null).thenApplyAsync(v -> {
            if (source.isCompletedExceptionally()) {
                if (!early.isCompletedExceptionally()) {
                    early.join().ifPresent(DiskTarget::close);
                }
                source.join(); // throws the source's error: reported first, as when opened in turn
            }
            DiskSource s = source.join();
            if (early.isCompletedExceptionally()) {
                closeQuietly(s);
                early.join(); // throws the target's error
            }
            // no file there any more: created now, with the source's size
            Optional<NbdDiskTarget> t = early.join();
            return new Opened(s, t.isPresent() ? t.get() : openTarget(s, target, targetField, runtime, provisioning));
        }, blocking);
    }

    private static DiskSource openSource(SourceRequest request, JobRuntime runtime) {
        try {
            return SourceOpener.open(request, runtime.tools(), runtime.vmware());
        } catch (IOException e) {
            throw new CompletionException(e);
        }
    }

    /** The target, for {@code source}'s size; the source is closed if the target cannot be opened. */
    private static DiskTarget openTarget(DiskSource source, DiskLocation target, String targetField,
                                         JobRuntime runtime, Provisioning provisioning) {
        try {
            long size = source.size();
            if (target instanceof DiskLocation.CloudVolume volume) {
                return CloudVolumeTarget.open(targetField, volume, size, provisioning.diskOffering(),
                        runtime.clouds().named(targetField, volume.cloud()), provisioning.ledger(),
                        provisioning.steps(), runtime.tools());
            }
            return NbdDiskTarget.open(targetField, target, size, NbdOptions.DEFAULT, runtime.tools());
        } catch (IOException e) {
            closeQuietly(source);
            throw new CompletionException(e);
        } catch (RuntimeException e) {
            closeQuietly(source);
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
