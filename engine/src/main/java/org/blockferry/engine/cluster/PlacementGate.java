package org.blockferry.engine.cluster;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

/**
 * The first step of new jobs (their entity started, which places a shard), at most
 * {@code permits} at once, the others in order of arrival ({@code blockferry.jobs.starting-at-once}).
 *
 * <p>Each job is a shard of its own ({@link LoadPlacement}), and the shard coordinator places one
 * shard at a time: while its state is written it holds the other requests in a set, and then
 * serves them in the set's order, not theirs. With 50 submissions at once, some waited while a
 * hundred later ones were placed (p99 3.3 s where p50 was 0.26 s). Kept short there, the queue is
 * this one, first come first served. The turn lasts until the entity answers, its journal read
 * included: ended as soon as the entity was created instead, the slowest submissions took 4-6 s
 * again (bench/README.md, 2026-12-06). A step that has not finished after {@code holdAtMost} gives
 * its turn to the next all the same (an entity on a node that has just died may not answer for
 * long); the step itself goes on.
 */
public final class PlacementGate {
    private final int permits;
    private final Executor delayed;
    private final ArrayDeque<Runnable> waiting = new ArrayDeque<>();
    private int running;

    public PlacementGate(int permits, Duration holdAtMost) {
        if (permits < 1) {
            throw new IllegalArgumentException("permits must be at least 1, got " + permits);
        }
        this.permits = permits;
        this.delayed = CompletableFuture.delayedExecutor(holdAtMost.toNanos(), TimeUnit.NANOSECONDS);
    }

    /**
     * Runs {@code step} once it is its turn; its stage, as it completes. The turn passes on when
     * the stage completes (however) or after {@code holdAtMost}, whichever is first.
     */
    public <T> CompletionStage<T> run(Supplier<? extends CompletionStage<T>> step) {
        CompletableFuture<T> result = new CompletableFuture<>();
        Runnable start = () -> {
            AtomicBoolean passed = new AtomicBoolean();
            Runnable passOn = () -> {
                if (passed.compareAndSet(false, true)) {
                    release();
                }
            };
            CompletionStage<T> stage;
            try {
                stage = step.get();
            } catch (RuntimeException e) {
                passOn.run();
                result.completeExceptionally(e);
                return;
            }
            stage.whenComplete((value, failure) -> {
                passOn.run();
                if (failure != null) {
                    result.completeExceptionally(failure);
                } else {
                    result.complete(value);
                }
            });
            if (!passed.get()) {
                CompletableFuture.runAsync(passOn, delayed);
            }
        };
        synchronized (this) {
            if (running >= permits) {
                waiting.addLast(start);
                return result;
            }
            running++;
        }
        startHere(start);
        return result;
    }

    /** Steps that hold a turn now, and steps waiting for one. */
    public synchronized int[] occupancy() {
        return new int[] {running, waiting.size()};
    }

    /** A turn ends: the next in line starts, on this thread. */
    private void release() {
        Runnable next;
        synchronized (this) {
            next = waiting.pollFirst();
            if (next == null) {
                running--;
                return;
            }
        }
        startHere(next);
    }

    /** Steps started while one already starts on this thread (one that ended at once): run after it, not inside. */
    private static final ThreadLocal<ArrayDeque<Runnable>> STARTING = new ThreadLocal<>();

    private static void startHere(Runnable start) {
        ArrayDeque<Runnable> queued = STARTING.get();
        if (queued != null) {
            queued.addLast(start);
            return;
        }
        queued = new ArrayDeque<>();
        STARTING.set(queued);
        try {
            for (Runnable r = start; r != null; r = queued.pollFirst()) {
                r.run();
            }
        } finally {
            STARTING.remove();
        }
    }
}
