package org.blockferry.persistence.lease;

import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps this process's leases: one daemon thread renews every {@link Held} lease each
 * heartbeat-interval, in one statement per owner (and per {@link DatabaseLeases#MAX_BATCH} leases). A held lease is valid on the monotonic clock until heartbeat-timeout after
 * the last successful acquire or renewal was <em>sent</em>; a renewal that finds the row another's
 * or gone ends it at once, one that fails (database down) lets it run out. So a paused or cut-off
 * process stops before the database lets anyone take over (timeout plus margin after its renewal).
 */
public final class LeaseKeeper implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(LeaseKeeper.class);

    private final DatabaseLeases leases;
    private final long timeoutNanos;
    private final ScheduledExecutorService thread;
    private final ConcurrentHashMap<String, Held> held = new ConcurrentHashMap<>();
    /** Per name, the last acquire or release queued: the next starts after it ended. Guarded by itself. */
    private final Map<String, CompletableFuture<?>> turns = new HashMap<>();

    /** Starts renewing at once; {@code threadName} names the daemon thread (for thread dumps). */
    public LeaseKeeper(DatabaseLeases leases, String threadName) {
        this.leases = leases;
        this.timeoutNanos = leases.timing().heartbeatTimeout().toNanos();
        this.thread = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, threadName);
            t.setDaemon(true);
            return t;
        });
        long interval = leases.timing().heartbeatInterval().toNanos();
        thread.scheduleAtFixedRate(this::renewAll, interval, interval, TimeUnit.NANOSECONDS);
    }

    public DatabaseLeases leases() {
        return leases;
    }

    /**
     * Tries once to acquire {@code name} for {@code owner} on {@code executor} (blocking I/O) and
     * keeps it when acquired; empty when another owner holds it. Runs after any acquire or release
     * of the same name through this keeper has ended, so a release cannot delete a newer hold's row.
     * Bad names and owners throw {@link IllegalArgumentException} here, before anything is sent.
     */
    public CompletionStage<Optional<Held>> acquire(String name, String owner, Executor executor) {
        DatabaseLeases.checkName(name);
        DatabaseLeases.checkOwner(owner);
        return inTurn(name, executor, () -> {
            long sent = System.nanoTime();
            return leases.tryAcquire(name, owner) ? Optional.of(keep(name, owner, sent)) : Optional.empty();
        });
    }

    /**
     * Keeps a lease that {@link DatabaseLeases#tryAcquire} just acquired; {@code sentAtNanos} is
     * {@link System#nanoTime()} read <em>before</em> that statement was sent (its validity counts
     * from there). An earlier hold of the same name through this keeper ends: the newest one counts.
     */
    public Held keep(String name, String owner, long sentAtNanos) {
        Held h = new Held(this, name, owner, sentAtNanos + timeoutNanos);
        Held older = held.put(name, h);
        if (older != null) {
            older.end("superseded by a newer acquisition of the same lease in this process");
        }
        return h;
    }

    /**
     * Stops renewing (a stopped process, as far as the database can tell): every held lease runs
     * out within heartbeat-timeout; rows stay until they expire or someone releases them. Releases
     * already asked for still run. No interrupt: an interrupted thread inside H2 closes its file.
     */
    @Override
    public void close() {
        thread.shutdown();
    }

    /** One round: one statement per owner and batch; a failed batch leaves its validities running out. */
    private void renewAll() {
        Map<String, List<Held>> byOwner = new HashMap<>();
        for (Held h : held.values()) {
            if (h.valid()) {
                byOwner.computeIfAbsent(h.owner, o -> new ArrayList<>()).add(h);
            } else {
                h.end(h.lostReason().orElse("released"));
                held.remove(h.name, h);
            }
        }
        int failed = 0;
        Exception first = null;
        for (Map.Entry<String, List<Held>> e : byOwner.entrySet()) {
            List<Held> all = e.getValue();
            for (int from = 0; from < all.size(); from += DatabaseLeases.MAX_BATCH) {
                List<Held> batch = all.subList(from, Math.min(all.size(), from + DatabaseLeases.MAX_BATCH));
                try {
                    renew(e.getKey(), batch);
                } catch (SQLException | RuntimeException x) {
                    failed += batch.size();
                    first = first == null ? x : first;
                }
            }
        }
        if (failed > 0) {
            log.warn("event=lease-renewals-failed count={} held={} error=\"{}\"", failed, held.size(), first.getMessage());
        }
    }

    private void renew(String owner, List<Held> batch) throws SQLException {
        long sent = System.nanoTime();
        Set<String> ours = leases.renew(owner, batch.stream().map(h -> h.name).collect(Collectors.toList()));
        for (Held h : batch) {
            if (ours.contains(h.name)) {
                h.extend(sent + timeoutNanos);
            } else {
                held.remove(h.name, h);
                Optional<String> now = leases.owner(h.name);
                h.end(now.map(o -> "taken over by " + o).orElse("its row was deleted (released elsewhere)"));
            }
        }
    }

    /** The release of a hold, in turn with acquisitions of the same name. */
    CompletionStage<Void> release(Held h) {
        return inTurn(h.name, thread, () -> {
            boolean current = held.remove(h.name, h);
            if (current || !held.containsKey(h.name)) {
                leases.release(h.name, h.owner);
            }
            return null;
        });
    }

    Duration timeout() {
        return leases.timing().heartbeatTimeout();
    }

    @FunctionalInterface
    private interface SqlCall<T> {
        T run() throws SQLException;
    }

    private <T> CompletableFuture<T> inTurn(String name, Executor executor, SqlCall<T> call) {
        CompletableFuture<T> next = new CompletableFuture<>();
        synchronized (turns) {
            CompletableFuture<?> before = turns.getOrDefault(name, CompletableFuture.completedFuture(null));
            turns.put(name, next);
            before.whenComplete((r, e) -> run(executor, call, next));
        }
        next.whenComplete((r, e) -> {
            synchronized (turns) {
                turns.remove(name, next);
            }
        });
        return next;
    }

    private static <T> void run(Executor executor, SqlCall<T> call, CompletableFuture<T> result) {
        try {
            executor.execute(() -> {
                try {
                    result.complete(call.run());
                } catch (Exception e) {
                    result.completeExceptionally(e);
                }
            });
        } catch (RejectedExecutionException e) {
            result.completeExceptionally(new IllegalStateException("the lease keeper or its executor has stopped", e));
        }
    }

    /**
     * One lease this process holds: valid until its monotonic deadline passes, it is found taken
     * over, superseded or released. Once it is not valid it never is again.
     */
    public static final class Held {
        private enum State { HELD, LOST, RELEASED }

        private final LeaseKeeper keeper;
        private final String name;
        private final String owner;
        private final CompletableFuture<String> lost = new CompletableFuture<>();
        private volatile long deadline;
        private volatile State state = State.HELD;
        private volatile String reason;

        private Held(LeaseKeeper keeper, String name, String owner, long deadline) {
            this.keeper = keeper;
            this.name = name;
            this.owner = owner;
            this.deadline = deadline;
        }

        public String name() {
            return name;
        }

        public String owner() {
            return owner;
        }

        /** True while held, not released, and within heartbeat-timeout of the last renewal sent. */
        public boolean valid() {
            return state == State.HELD && System.nanoTime() - deadline < 0;
        }

        /** Why it is not valid (expired, taken over, superseded, released); empty while valid. */
        public Optional<String> lostReason() {
            State s = state;
            if (s == State.RELEASED) {
                return Optional.of("released");
            }
            if (s == State.LOST) {
                return Optional.of(reason);
            }
            if (System.nanoTime() - deadline >= 0) {
                return Optional.of("expired: no renewal reached the database within " + keeper.timeout());
            }
            return Optional.empty();
        }

        /**
         * Completes once, with the reason, when the lease is lost (expired, taken over or
         * superseded); never when it is released. Completed on the keeper's thread: keep callbacks short.
         */
        public CompletionStage<String> whenLost() {
            return lost.minimalCompletionStage();
        }

        /** Stops renewing and deletes the row if it is still this process's; completes when done. */
        public CompletionStage<Void> release() {
            synchronized (this) {
                if (state == State.HELD) {
                    state = State.RELEASED;
                }
            }
            return keeper.release(this);
        }

        /** A renewal sent at {@code newDeadline - timeout} succeeded; too late if it already expired. */
        void extend(long newDeadline) {
            synchronized (this) {
                if (state != State.HELD) {
                    return;
                }
                if (System.nanoTime() - deadline < 0) {
                    if (newDeadline - deadline > 0) {
                        deadline = newDeadline;
                    }
                    return;
                }
            }
            end("expired: the renewal came back after heartbeat-timeout");
        }

        void end(String why) {
            synchronized (this) {
                if (state != State.HELD) {
                    return;
                }
                reason = why;
                state = State.LOST;
            }
            log.warn("event=lease-lost name={} owner=\"{}\" reason=\"{}\"", name, owner, why);
            lost.complete(why);
        }

        @Override
        public String toString() {
            return "Held[" + name + " by " + owner + (valid() ? "" : ", " + lostReason().orElse("ended")) + "]";
        }
    }
}
