package org.blockferry.engine.copy;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What one run holds while its stream runs: pooled buffers and I/O still in flight. When the
 * stream stops early (failure, cancel) the stages drop their elements; this is how the run
 * still waits for the I/O and returns every buffer exactly once.
 */
final class RunResources {
    private final Set<BufferPool.Lease> leases = new HashSet<>();
    private final Set<CompletableFuture<?>> outstanding = ConcurrentHashMap.newKeySet();
    private boolean closing;
    private volatile boolean stopping;

    /** The run is ending: no new I/O may start (requests in flight still complete). */
    void stop() {
        stopping = true;
    }

    boolean isStopping() {
        return stopping;
    }

    /** Remembers {@code future} until it completes. */
    <T> CompletableFuture<T> track(CompletableFuture<T> future) {
        outstanding.add(future);
        future.whenComplete((v, e) -> outstanding.remove(future));
        return future;
    }

    /** Takes responsibility for a lease; after the run ended the lease goes straight back. */
    synchronized void adopt(BufferPool.Lease lease) {
        if (closing || stopping) {
            lease.release();
            throw new CancellationException("the copy has ended");
        }
        leases.add(lease);
    }

    /** A lease the pipeline is done with. */
    void release(BufferPool.Lease lease) {
        synchronized (this) {
            leases.remove(lease);
        }
        lease.release();
    }

    /** Completes when every tracked future has completed, successfully or not. */
    CompletableFuture<Void> settled() {
        List<CompletableFuture<?>> now = new ArrayList<>(outstanding);
        return CompletableFuture.allOf(now.toArray(CompletableFuture[]::new)).handle((v, e) -> null);
    }

    /** Returns every lease still held; call after the connections are closed. */
    void releaseAll() {
        List<BufferPool.Lease> left;
        synchronized (this) {
            closing = true;
            left = new ArrayList<>(leases);
            leases.clear();
        }
        left.forEach(BufferPool.Lease::release);
    }
}
