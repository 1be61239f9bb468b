package org.blockferry.engine.copy;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * What one run holds while its stream runs: pooled buffers and I/O still in flight. When the
 * stream stops early (failure, cancel) the stages drop their elements; this is how the run
 * still waits for the I/O and returns every buffer exactly once.
 */
final class RunResources {
    private final Set<BufferPool.Lease> leases = new HashSet<>();
    private final Set<CompletableFuture<?>> outstanding = ConcurrentHashMap.newKeySet();
    private boolean closing;
    private boolean stopping; // guarded by this

    /** The run is ending: no new I/O may start (requests in flight still complete). */
    synchronized void stop() {
        stopping = true;
    }

    /**
     * Starts I/O of the run, holding {@code lease} (or null) until {@link #release}: the I/O is
     * tracked before it is sent, so that {@link #settled()} after {@link #stop()} waits for every
     * request sent (a connection closed with requests in flight makes some servers abort); once the
     * run stops nothing new is sent, the lease goes straight back and the result is a
     * {@link CancellationException}.
     */
    <T> CompletableFuture<T> start(BufferPool.Lease lease, Supplier<CompletableFuture<T>> io) {
        CompletableFuture<T> tracked = new CompletableFuture<>();
        synchronized (this) {
            if (closing || stopping) {
                if (lease != null) {
                    lease.release();
                }
                return CompletableFuture.failedFuture(new CancellationException("the copy has ended"));
            }
            if (lease != null) {
                leases.add(lease);
            }
            outstanding.add(tracked);
        }
        tracked.whenComplete((v, e) -> outstanding.remove(tracked));
        CompletableFuture<T> sent;
        try {
            sent = io.get();
        } catch (RuntimeException e) {
            sent = CompletableFuture.failedFuture(e);
        }
        sent.whenComplete((v, e) -> {
            if (e == null) {
                tracked.complete(v);
            } else {
                tracked.completeExceptionally(e);
            }
        });
        return tracked;
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
