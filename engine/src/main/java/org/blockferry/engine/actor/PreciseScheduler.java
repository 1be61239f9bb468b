package org.blockferry.engine.actor;

import com.typesafe.config.Config;
import java.io.Closeable;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.actor.Cancellable;
import org.apache.pekko.actor.Scheduler;
import org.apache.pekko.actor.SchedulerException;
import org.apache.pekko.event.LoggingAdapter;
import scala.concurrent.ExecutionContext;
import scala.concurrent.duration.FiniteDuration;

/**
 * Pekko's scheduler on a {@link ScheduledThreadPoolExecutor}: a timer fires at its deadline
 * (within the kernel's timer slack) instead of at the next tick of Pekko's default scheduler,
 * whose thread wakes every {@code pekko.scheduler.tick-duration} (10 ms) whether a timer is due or
 * not, and rounds every delay up to whole ticks. A node's waits in series — the read side's
 * journal polls, a one-shot node's leader ticks and hand-overs, an entity's timers — each lost up
 * to a tick to that rounding. Its one thread sleeps until the next timer is due (the default's
 * wakes 100 times a second); since timers now fire as often as they ask, the read side's polls
 * were lengthened to keep an idle node's work the same (JournalConfig, JobReadSide).
 *
 * <p>Like the default: a task runs on the {@link ExecutionContext} it was given, never on the
 * timer thread; a repeated task ({@link #schedule}) keeps its rate, a late run does not shift
 * the next ones; once the actor system closes the scheduler, the one-off tasks still pending are
 * dispatched at once and scheduling throws {@link SchedulerException}. Selected by
 * {@code pekko.scheduler.implementation} (application.conf).
 */
public final class PreciseScheduler implements Scheduler, Closeable {
    /** The shortest interval it is meant for (1 ms): Pekko's rate-limiting code reads it. */
    private static final double MAX_FREQUENCY = 1000.0;

    private final ScheduledThreadPoolExecutor timer;
    private final LoggingAdapter log;
    /** One-off tasks not yet fired or cancelled: dispatched when the scheduler closes. */
    private final Set<Task> pending = ConcurrentHashMap.newKeySet();

    /** The constructor Pekko calls (config, log, thread factory). */
    public PreciseScheduler(Config config, LoggingAdapter log, ThreadFactory threadFactory) {
        Scheduler.$init$(this);
        this.log = log;
        this.timer = new ScheduledThreadPoolExecutor(1, threadFactory);
        timer.setRemoveOnCancelPolicy(true);
        timer.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
        timer.setContinueExistingPeriodicTasksAfterShutdownPolicy(false);
    }

    @Override
    public Cancellable scheduleOnce(FiniteDuration delay, Runnable runnable, ExecutionContext executor) {
        Task task = new Task(runnable, executor, true);
        pending.add(task);
        try {
            task.started(timer.schedule(task::fire, delay.toNanos(), TimeUnit.NANOSECONDS));
        } catch (RejectedExecutionException e) {
            pending.remove(task);
            throw closed();
        }
        return task;
    }

    /** Runs {@code runnable} after {@code initialDelay}, then every {@code interval} (at a fixed rate). */
    @Override
    public Cancellable schedule(FiniteDuration initialDelay, FiniteDuration interval, Runnable runnable,
                                ExecutionContext executor) {
        if (interval.toNanos() <= 0) {
            throw new IllegalArgumentException("a repeated task needs a positive interval, got " + interval);
        }
        Task task = new Task(runnable, executor, false);
        try {
            task.started(timer.scheduleAtFixedRate(task::fire, initialDelay.toNanos(), interval.toNanos(),
                    TimeUnit.NANOSECONDS));
        } catch (RejectedExecutionException e) {
            throw closed();
        }
        return task;
    }

    @Override
    public double maxFrequency() {
        return MAX_FREQUENCY;
    }

    /** Stops the timer thread and dispatches the one-off tasks still pending, as Pekko's default does. */
    @Override
    public void close() {
        timer.shutdownNow();
        for (Task t : pending.toArray(Task[]::new)) {
            t.fire();
        }
    }

    private static SchedulerException closed() {
        return SchedulerException.apply("cannot enqueue after timer shutdown");
    }

    /** One scheduled task: fired (dispatched to its executor), cancelled, or still waiting. */
    private final class Task implements Cancellable {
        private static final int WAITING = 0;
        private static final int FIRED = 1;
        private static final int CANCELLED = 2;

        private final Runnable runnable;
        private final ExecutionContext executor;
        private final boolean once;
        private final AtomicInteger state = new AtomicInteger(WAITING);
        private volatile ScheduledFuture<?> future;

        Task(Runnable runnable, ExecutionContext executor, boolean once) {
            this.runnable = runnable;
            this.executor = executor;
            this.once = once;
        }

        void started(ScheduledFuture<?> f) {
            future = f;
            if (state.get() == CANCELLED) {
                f.cancel(false); // cancelled before its future was known
            }
        }

        void fire() {
            if (once ? !state.compareAndSet(WAITING, FIRED) : state.get() != WAITING) {
                return;
            }
            if (once) {
                pending.remove(this);
            }
            try {
                executor.execute(runnable);
            } catch (RejectedExecutionException e) {
                log.debug("a timer fired after its dispatcher stopped: {}", e.getMessage());
            } catch (RuntimeException e) {
                executor.reportFailure(e);
            }
        }

        @Override
        public boolean cancel() {
            if (!state.compareAndSet(WAITING, CANCELLED)) {
                return false;
            }
            pending.remove(this);
            ScheduledFuture<?> f = future;
            if (f != null) {
                f.cancel(false);
            }
            return true;
        }

        @Override
        public boolean isCancelled() {
            return state.get() == CANCELLED;
        }
    }
}
