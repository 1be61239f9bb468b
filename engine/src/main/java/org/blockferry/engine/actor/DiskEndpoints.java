package org.blockferry.engine.actor;

import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.blockferry.engine.copy.DiskComparison;
import org.blockferry.engine.endpoint.DiskLocation;
import org.blockferry.engine.source.DiskSource;
import org.blockferry.engine.source.SourceRequest;
import org.blockferry.engine.source.nbd.NbdDiskSource;
import org.blockferry.engine.target.NbdDiskTarget;
import org.blockferry.nbd.NbdOptions;

/** The two ends of a disk's copy: opened for the copy, and compared after it (option {@code verify}). */
final class DiskEndpoints {
    /** An opened source (which decided full or incremental) and target. */
    record Opened(DiskSource source, NbdDiskTarget target) {
    }

    private DiskEndpoints() {
    }

    /**
     * On a blocking thread: the source (maybe a local export with its bitmap, or a snapshot), its
     * size, then the target. Bad input fails before the target is touched. Both ends are opened
     * under the node's storage policy ({@link JobRuntime#tools()}), checked on their real paths
     * now, whatever was checked at submission.
     */
    static Opened open(SourceRequest request, DiskLocation target, String targetField, JobRuntime runtime) {
        DiskSource opened = null;
        try {
            opened = SourceOpener.open(request, runtime.tools(), runtime.vmware());
            long size = opened.size();
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

    /** Compares the target, read through its own connection (a local file read-only), with the source. */
    static CompletableFuture<DiskComparison.Outcome> verify(DiskSource source, DiskLocation target, String field,
                                                            JobRuntime runtime) {
        return CompletableFuture.supplyAsync(() -> {
            try {
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
