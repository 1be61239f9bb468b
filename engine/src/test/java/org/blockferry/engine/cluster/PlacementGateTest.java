package org.blockferry.engine.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class PlacementGateTest {
    private static final Duration LONG = Duration.ofMinutes(1);

    @Test
    void atMostThePermitsRunAtOnceAndTheOthersStartInTheOrderTheyCame() throws Exception {
        PlacementGate gate = new PlacementGate(3, LONG);
        List<Integer> started = new CopyOnWriteArrayList<>();
        List<CompletableFuture<Integer>> steps = new ArrayList<>();
        List<CompletionStage<Integer>> results = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            int n = i;
            CompletableFuture<Integer> step = new CompletableFuture<>();
            steps.add(step);
            results.add(gate.run(() -> {
                started.add(n);
                return step;
            }));
        }
        assertEquals(List.of(0, 1, 2), started);
        assertArrayEquals(new int[] {3, 17}, gate.occupancy());
        // finish them out of order: each finish lets exactly the next in line start
        int[] order = {1, 0, 2, 4, 3, 5, 7, 6, 8, 9, 10, 11, 13, 12, 14, 15, 16, 17, 18, 19};
        for (int k = 0; k < order.length; k++) {
            steps.get(order[k]).complete(order[k] * 10);
            int expected = Math.min(20, 3 + k + 1);
            awaitStarted(started, expected);
            int[] occupancy = gate.occupancy();
            assertTrue(occupancy[0] <= 3, "never more than the permits at once: " + occupancy[0]);
        }
        List<Integer> all = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            all.add(i);
            assertEquals(i * 10, results.get(i).toCompletableFuture().get(5, TimeUnit.SECONDS));
        }
        assertEquals(all, started, "first come, first served");
        awaitIdle(gate);
    }

    @Test
    void aFailedOrThrowingStepPassesItsTurnOnAndItsCallerSeesTheFailure() throws Exception {
        PlacementGate gate = new PlacementGate(1, LONG);
        CompletableFuture<String> failing = new CompletableFuture<>();
        CompletionStage<String> first = gate.run(() -> failing);
        CompletionStage<String> second = gate.run(() -> {
            throw new IllegalStateException("no entity");
        });
        CompletionStage<String> third = gate.run(() -> CompletableFuture.completedFuture("third"));
        failing.completeExceptionally(new IllegalStateException("timed out"));
        ExecutionException e1 = assertThrows(ExecutionException.class,
                () -> first.toCompletableFuture().get(5, TimeUnit.SECONDS));
        assertEquals("timed out", e1.getCause().getMessage());
        ExecutionException e2 = assertThrows(ExecutionException.class,
                () -> second.toCompletableFuture().get(5, TimeUnit.SECONDS));
        assertEquals("no entity", e2.getCause().getMessage());
        assertEquals("third", third.toCompletableFuture().get(5, TimeUnit.SECONDS));
        awaitIdle(gate);
    }

    @Test
    void aStepThatDoesNotAnswerGivesItsTurnUpAfterTheHoldTimeAndStillCompletesLater() throws Exception {
        PlacementGate gate = new PlacementGate(1, Duration.ofMillis(300));
        CompletableFuture<String> silent = new CompletableFuture<>();
        CompletionStage<String> first = gate.run(() -> silent);
        long start = System.nanoTime();
        CompletionStage<String> second = gate.run(() -> CompletableFuture.completedFuture("next"));
        assertEquals("next", second.toCompletableFuture().get(5, TimeUnit.SECONDS));
        long waitedMs = (System.nanoTime() - start) / 1_000_000;
        assertTrue(waitedMs >= 250, "the next waited for the turn to pass: " + waitedMs + " ms");
        assertTrue(waitedMs < 3_000, "the turn passed on after the hold time: " + waitedMs + " ms");
        assertFalse(first.toCompletableFuture().isDone(), "the silent step goes on");
        silent.complete("late");
        assertEquals("late", first.toCompletableFuture().get(5, TimeUnit.SECONDS));
        awaitIdle(gate); // its late end does not give back a second turn
        CompletableFuture<String> a = new CompletableFuture<>();
        gate.run(() -> a);
        boolean[] bStarted = {false};
        gate.run(() -> {
            bStarted[0] = true;
            return new CompletableFuture<String>();
        });
        assertArrayEquals(new int[] {1, 1}, gate.occupancy(), "one permit, still one");
        assertFalse(bStarted[0], "the second waits for the one permit");
    }

    @Test
    void noPermitIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> new PlacementGate(0, LONG));
    }

    private static void awaitStarted(List<Integer> started, int count) throws InterruptedException {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (started.size() < count && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        assertEquals(count, started.size(), "started: " + started);
    }

    private static void awaitIdle(PlacementGate gate) throws InterruptedException {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (gate.occupancy()[0] != 0 && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        assertArrayEquals(new int[] {0, 0}, gate.occupancy());
    }
}
