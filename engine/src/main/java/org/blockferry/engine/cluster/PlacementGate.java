package org.blockferry.engine.cluster;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
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
 * this one, first come first served.
 *
 * <p>A turn ends as soon as the job's entity is created on this node ({@link #started}: its
 * shard has a home; the entity's journal read, which follows, needs no turn), else when the step
 * completes, and at the latest after {@code holdAtMost} (an entity on a node that has just died
 * may not answer for long); the step itself goes on.
 */
public final class PlacementGate {
    private final int permits;
    private final long holdAtMostNanos;
    private final Executor delayed;
    private final ArrayDeque<Runnable> waiting = new ArrayDeque<>();
    /** The turns of steps started and not yet ended, by key: {@link #started} ends one early. */
    private final ConcurrentHashMap<String, Runnable> turns = new ConcurrentHashMap<>();
    private int running;

    public PlacementGate(int permits, Duration holdAtMost) {
        if (permits < 1) {
            throw new IllegalArgumentException("permits must be at least 1, got " + permits);
        }
        this.permits = permits;
        this.holdAtMostNanos = holdAtMost.toNanos();
        this.delayed = CompletableFuture.delayedExecutor(holdAtMostNanos, TimeUnit.NANOSECONDS);
    }

    /**
     * Runs {@code step} of the job {@code key} once it is its turn; its stage, as it completes.
     * The turn passes on at {@link #started}, when the stage completes (however), or after
     * {@code holdAtMost}, whichever is first.
     */
    public <T> CompletionStage<T> run(String key, Supplier<? extends CompletionStage<T>> step) {
        CompletableFuture<T> result = new CompletableFuture<>();
        Runnable start = () -> {
            AtomicBoolean passed = new AtomicBoolean();
            Runnable passOn = new Runnable() {
                @Override
                public void run() {
                    if (passed.compareAndSet(false, true)) {
                        turns.remove(key, this);
                        release();
                    }
                }
            };
            turns.put(key, passOn); // a second submission of one job id: the first's turn still ends by itself
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

    /** The entity of job {@code key} was created here: its step's turn, if it holds one, passes on. */
    public void started(String key) {
        Runnable turn = turns.get(key);
        if (turn != null) {
            turn.run();
        }
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
