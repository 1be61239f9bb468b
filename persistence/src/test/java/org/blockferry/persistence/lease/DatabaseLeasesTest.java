package org.blockferry.persistence.lease;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.blockferry.persistence.lease.LeaseDatabases.Kind;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The lease table's operations on H2 and PostgreSQL: one holder at a time, takeover only after expiry. */
class DatabaseLeasesTest {

    private static LeaseDatabases databases;

    @BeforeAll
    static void open() {
        databases = new LeaseDatabases("table");
    }

    @AfterAll
    static void close() throws Exception {
        databases.close();
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void acquiresRenewsAndReleases(Kind kind) throws Exception {
        DatabaseLeases leases = databases.leases(kind, LeaseDatabases.fast());
        String name = LeaseDatabases.unique("basic");
        assertEquals(Optional.empty(), leases.owner(name));
        assertFalse(leases.renew(name, "a"), "nothing to renew yet");

        assertTrue(leases.tryAcquire(name, "a"));
        assertEquals(Optional.of("a"), leases.owner(name));
        assertTrue(leases.renew(name, "a"));
        assertFalse(leases.renew(name, "b"), "not b's lease");
        assertFalse(leases.release(name, "b"), "b cannot release a's lease");
        assertEquals(Optional.of("a"), leases.owner(name));

        assertTrue(leases.release(name, "a"));
        assertEquals(Optional.empty(), leases.owner(name));
        assertFalse(leases.renew(name, "a"), "released: gone");
        assertTrue(leases.tryAcquire(name, "b"), "free again");
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void aSecondOwnerIsRefusedWhileTheLeaseIsFreshAndTheHolderMayAcquireAgain(Kind kind) throws Exception {
        DatabaseLeases leases = databases.leases(kind, LeaseDatabases.fast());
        String name = LeaseDatabases.unique("fresh");
        assertTrue(leases.tryAcquire(name, "a"));
        assertFalse(leases.tryAcquire(name, "b"));
        assertTrue(leases.tryAcquire(name, "a"), "its own lease: renewed");
        assertEquals(Optional.of("a"), leases.owner(name));
    }

    /**
     * Timeout 1 s, margin 1 s: past the timeout but within the margin the lease is still a's; once
     * the database saw no renewal for more than both, b takes it.
     */
    @ParameterizedTest
    @EnumSource(Kind.class)
    void anotherOwnerTakesOverOnlyAfterTimeoutPlusMargin(Kind kind) throws Exception {
        LeaseTiming timing = new LeaseTiming(Duration.ofSeconds(1), Duration.ofMillis(200), Duration.ofSeconds(2),
                Duration.ofSeconds(1));
        DatabaseLeases leases = databases.leases(kind, timing);
        String name = LeaseDatabases.unique("takeover");
        long before = System.nanoTime();
        assertTrue(leases.tryAcquire(name, "a"));
        long acquired = System.nanoTime();

        Thread.sleep(1_200);
        assertFalse(leases.tryAcquire(name, "b"), "1.2 s after a's acquisition: within timeout + margin");
        long refused = System.nanoTime();
        assertTrue(refused - before < Duration.ofMillis(2_000).toNanos(),
                "the refusal must have come within 2 s of a's acquisition for this test to mean anything");

        Thread.sleep(Math.max(0, Duration.ofMillis(2_150).toNanos() - (System.nanoTime() - acquired)) / 1_000_000);
        assertTrue(leases.tryAcquire(name, "b"), "more than 2 s without a renewal: expired");
        assertEquals(Optional.of("b"), leases.owner(name));
        assertFalse(leases.renew(name, "a"), "a's renewal finds the lease b's");
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void eightOwnersRacingForANewNameGetExactlyOneLease(Kind kind) throws Exception {
        DatabaseLeases leases = databases.leases(kind, LeaseDatabases.fast());
        String name = LeaseDatabases.unique("race");
        List<String> winners = race(8, owner -> leases.tryAcquire(name, owner));
        assertEquals(1, winners.size(), "winners: " + winners);
        assertEquals(Optional.of(winners.get(0)), leases.owner(name));
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void eightOwnersRacingToTakeOverAnExpiredLeaseGetExactlyOne(Kind kind) throws Exception {
        DatabaseLeases leases = databases.leases(kind, LeaseDatabases.fast());
        String name = LeaseDatabases.unique("race-expired");
        assertTrue(leases.tryAcquire(name, "paused"));
        Thread.sleep(1_500); // timeout 1 s + margin 0.3 s
        List<String> winners = race(8, owner -> leases.tryAcquire(name, owner));
        assertEquals(1, winners.size(), "winners: " + winners);
        assertEquals(Optional.of(winners.get(0)), leases.owner(name));
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void aNameOrOwnerLongerThanItsColumnIsRefusedBeforeAnythingIsWritten(Kind kind) throws Exception {
        DatabaseLeases leases = databases.leases(kind, LeaseDatabases.fast());
        String prefix = LeaseDatabases.unique("hostile");
        String longName = prefix + "x".repeat(256 - prefix.length());
        IllegalArgumentException name = assertThrows(IllegalArgumentException.class,
                () -> leases.tryAcquire(longName, "a"));
        assertTrue(name.getMessage().contains("lease name has at most 255 characters, this one has 256"),
                name.getMessage());

        String longOwner = "o".repeat(501);
        IllegalArgumentException owner = assertThrows(IllegalArgumentException.class,
                () -> leases.tryAcquire(prefix, longOwner));
        assertTrue(owner.getMessage().contains("lease owner has at most 500 characters, this one has 501"),
                owner.getMessage());
        assertThrows(IllegalArgumentException.class, () -> leases.tryAcquire(prefix + "\0", "a"));
        assertThrows(IllegalArgumentException.class, () -> leases.tryAcquire(" ", "a"));
        assertThrows(IllegalArgumentException.class, () -> leases.renew(prefix, longOwner));
        assertEquals(0, databases.rows(kind, prefix), "nothing written");

        String widest = prefix + "\u00e9".repeat(255 - prefix.length()); // 255 characters, more bytes
        assertTrue(leases.tryAcquire(widest, "\u00e9".repeat(500)), "the widest that fits");
        assertEquals(Optional.of("\u00e9".repeat(500)), leases.owner(widest));
    }

    /** Runs {@code attempt} for owners racer-0..n-1 released at once; the owners that got true. */
    static List<String> race(int n, Attempt attempt) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try {
            CountDownLatch ready = new CountDownLatch(n);
            CountDownLatch go = new CountDownLatch(1);
            List<Future<Boolean>> results = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                String owner = "racer-" + i;
                Callable<Boolean> racer = () -> {
                    ready.countDown();
                    go.await();
                    return attempt.run(owner);
                };
                results.add(pool.submit(racer));
            }
            ready.await();
            go.countDown();
            List<String> winners = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                if (results.get(i).get()) { // a racer that threw fails the test here
                    winners.add("racer-" + i);
                }
            }
            return winners;
        } finally {
            pool.shutdownNow();
        }
    }

    @FunctionalInterface
    interface Attempt {
        boolean run(String owner) throws Exception;
    }
}
