package org.blockferry.engine.actor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.actor.Cancellable;
import org.apache.pekko.actor.SchedulerException;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.event.NoLogging;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import scala.concurrent.ExecutionContext;
import scala.concurrent.duration.FiniteDuration;

class PreciseSchedulerTest {
    private ExecutorService pool;
    private ExecutionContext executor;
    private PreciseScheduler scheduler;

    @BeforeEach
    void start() {
        pool = Executors.newSingleThreadExecutor(r -> new Thread(r, "test-executor"));
        executor = ExecutionContext.fromExecutor(pool);
        scheduler = new PreciseScheduler(ConfigFactory.empty(), NoLogging.getInstance(),
                r -> new Thread(r, "test-timer"));
    }

    @AfterEach
    void stop() {
        scheduler.close();
        pool.shutdownNow();
    }

    private static FiniteDuration ms(long millis) {
        return FiniteDuration.create(millis, TimeUnit.MILLISECONDS);
    }

    @Test
    void theNodesActorSystemsUseIt() {
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "scheduler-test", ConfigFactory.load());
        try {
            assertInstanceOf(PreciseScheduler.class, system.classicSystem().scheduler());
        } finally {
            system.terminate();
        }
    }

    @Test
    void aTaskRunsOnceOnItsExecutorNotBeforeItsDelay() throws Exception {
        AtomicReference<String> thread = new AtomicReference<>();
        AtomicInteger runs = new AtomicInteger();
        CountDownLatch ran = new CountDownLatch(1);
        long start = System.nanoTime();
        AtomicLong at = new AtomicLong();
        scheduler.scheduleOnce(ms(30), () -> {
            at.set(System.nanoTime());
            thread.set(Thread.currentThread().getName());
            runs.incrementAndGet();
            ran.countDown();
        }, executor);
        assertTrue(ran.await(5, TimeUnit.SECONDS), "it ran");
        assertTrue(at.get() - start >= Duration.ofMillis(30).toNanos(), "not before its delay");
        assertEquals("test-executor", thread.get(), "on the executor it was given, not the timer's thread");
        Thread.sleep(50);
        assertEquals(1, runs.get(), "once");
    }

    @Test
    void aCancelledTaskNeverRuns() throws Exception {
        AtomicInteger runs = new AtomicInteger();
        Cancellable c = scheduler.scheduleOnce(ms(30), runs::incrementAndGet, executor);
        assertTrue(c.cancel());
        assertFalse(c.cancel(), "cancelled already");
        assertTrue(c.isCancelled());
        Thread.sleep(80);
        assertEquals(0, runs.get());
    }

    @Test
    void aTaskThatRanCannotBeCancelled() throws Exception {
        CountDownLatch ran = new CountDownLatch(1);
        Cancellable c = scheduler.scheduleOnce(ms(0), ran::countDown, executor);
        assertTrue(ran.await(5, TimeUnit.SECONDS));
        assertFalse(c.cancel());
        assertFalse(c.isCancelled());
    }

    @Test
    void aRepeatedTaskRunsUntilCancelled() throws Exception {
        AtomicInteger runs = new AtomicInteger();
        CountDownLatch three = new CountDownLatch(3);
        Cancellable c = scheduler.schedule(ms(0), ms(5), () -> {
            runs.incrementAndGet();
            three.countDown();
        }, executor);
        assertTrue(three.await(5, TimeUnit.SECONDS), "it repeats");
        assertTrue(c.cancel());
        Thread.sleep(20); // a run dispatched just before the cancel may still come in
        int after = runs.get();
        Thread.sleep(60);
        assertEquals(after, runs.get(), "no run after the cancel");
    }

    @Test
    void aTaskWithAFixedDelayRepeatsOnItsExecutorUntilCancelled() throws Exception {
        // Pekko's own default, built on scheduleOnce: the cluster's leader and gossip ticks use it
        AtomicInteger runs = new AtomicInteger();
        AtomicReference<String> thread = new AtomicReference<>();
        CountDownLatch three = new CountDownLatch(3);
        Cancellable c = scheduler.scheduleWithFixedDelay(ms(1), ms(5), () -> {
            thread.set(Thread.currentThread().getName());
            runs.incrementAndGet();
            three.countDown();
        }, executor);
        assertTrue(three.await(5, TimeUnit.SECONDS), "it repeats");
        assertEquals("test-executor", thread.get());
        assertTrue(c.cancel());
        Thread.sleep(20);
        int after = runs.get();
        Thread.sleep(60);
        assertEquals(after, runs.get(), "no run after the cancel");
    }

    @Test
    void aRepeatedTaskNeedsAPositiveInterval() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> scheduler.schedule(ms(0), ms(0), () -> { }, executor));
        assertTrue(e.getMessage().contains("positive interval"), e.getMessage());
    }

    @Test
    void closingDispatchesPendingTasksAndRefusesNewOnes() throws Exception {
        CountDownLatch ran = new CountDownLatch(1);
        AtomicInteger cancelledRuns = new AtomicInteger();
        scheduler.scheduleOnce(ms(60_000), ran::countDown, executor);
        scheduler.scheduleOnce(ms(60_000), cancelledRuns::incrementAndGet, executor).cancel();
        scheduler.close();
        assertTrue(ran.await(5, TimeUnit.SECONDS), "a pending task is dispatched when the scheduler closes");
        SchedulerException e = assertThrows(SchedulerException.class,
                () -> scheduler.scheduleOnce(ms(1), () -> { }, executor));
        assertTrue(e.getMessage().contains("after timer shutdown"), e.getMessage());
        assertThrows(SchedulerException.class, () -> scheduler.schedule(ms(1), ms(1), () -> { }, executor));
        assertEquals(0, cancelledRuns.get(), "a cancelled task is not");
    }
}
