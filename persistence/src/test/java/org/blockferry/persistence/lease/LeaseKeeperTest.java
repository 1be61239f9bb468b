package org.blockferry.persistence.lease;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.blockferry.persistence.Database;
import org.blockferry.persistence.lease.LeaseDatabases.Kind;
import org.blockferry.persistence.lease.LeaseKeeper.Held;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Held leases on the monotonic clock (timeout 1 s, renewals every 0.2 s, margin 0.3 s): valid
 * while renewed, over when the holder is paused, cut off, taken over, superseded or releases.
 */
class LeaseKeeperTest {

    private static LeaseDatabases databases;
    private static ExecutorService io;

    @BeforeAll
    static void open() {
        databases = new LeaseDatabases("keeper");
        io = Executors.newFixedThreadPool(4);
    }

    @AfterAll
    static void close() throws Exception {
        io.shutdownNow();
        databases.close();
    }

    private static Held acquire(LeaseKeeper keeper, String name, String owner) throws Exception {
        return keeper.acquire(name, owner, io).toCompletableFuture().get(10, TimeUnit.SECONDS)
                .orElseThrow(() -> new AssertionError(owner + " did not get " + name));
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void aRenewedLeaseStaysValidAndKeepsOthersOut(Kind kind) throws Exception {
        DatabaseLeases leases = databases.leases(kind, LeaseDatabases.fast());
        String name = LeaseDatabases.unique("renewed");
        try (LeaseKeeper keeper = new LeaseKeeper(leases, "test-keeper")) {
            Held held = acquire(keeper, name, "a");
            Thread.sleep(2_500); // twice the expiry
            assertTrue(held.valid(), held.toString());
            assertFalse(leases.tryAcquire(name, "b"), "renewed: still a's");
            assertEquals(Optional.empty(), held.lostReason());
        }
    }

    /** A paused process: its keeper stops renewing. Its hold ends within the timeout, before b can start. */
    @ParameterizedTest
    @EnumSource(Kind.class)
    void aPausedHolderStopsBeforeAnyoneCanTakeOver(Kind kind) throws Exception {
        DatabaseLeases leases = databases.leases(kind, LeaseDatabases.fast());
        String name = LeaseDatabases.unique("paused");
        LeaseKeeper paused = new LeaseKeeper(leases, "test-keeper-paused");
        Held held = acquire(paused, name, "a");
        Thread.sleep(500);
        paused.close();
        long stopped = System.nanoTime();

        boolean taken = false;
        while (!taken && System.nanoTime() - stopped < TimeUnit.SECONDS.toNanos(5)) {
            boolean wasValid = held.valid();
            taken = leases.tryAcquire(name, "b");
            assertFalse(taken && wasValid, "b got the lease while a's hold was still valid");
            if (System.nanoTime() - stopped > TimeUnit.MILLISECONDS.toNanos(1_010)) {
                assertFalse(held.valid(), "more than the timeout since a's last renewal was sent");
            }
            Thread.sleep(20);
        }
        assertTrue(taken, "b takes the lease over once it expired");
        assertFalse(held.valid());
        assertTrue(held.lostReason().orElseThrow().startsWith("expired"), held.lostReason().toString());
    }

    /** Another process took the row (its renewals had failed for longer than the expiry): lost at once. */
    @ParameterizedTest
    @EnumSource(Kind.class)
    void aHolderFindsItsLeaseTakenOverAtItsNextRenewal(Kind kind) throws Exception {
        DatabaseLeases leases = databases.leases(kind, LeaseDatabases.fast());
        String name = LeaseDatabases.unique("taken");
        try (LeaseKeeper keeper = new LeaseKeeper(leases, "test-keeper")) {
            Held held = acquire(keeper, name, "a");
            databases.overwriteOwner(kind, name, "b");
            String reason = held.whenLost().toCompletableFuture().get(1, TimeUnit.SECONDS);
            assertEquals("taken over by b", reason);
            assertFalse(held.valid());
            Thread.sleep(500);
            assertEquals(Optional.of("b"), leases.owner(name), "a's keeper leaves b's lease alone");
        }
    }

    /** Renewed together in one statement: only the lease taken over is lost. */
    @ParameterizedTest
    @EnumSource(Kind.class)
    void oneLeaseTakenOverAmongSeveralIsLostAndTheOthersStayValid(Kind kind) throws Exception {
        DatabaseLeases leases = databases.leases(kind, LeaseDatabases.fast());
        String prefix = LeaseDatabases.unique("several");
        try (LeaseKeeper keeper = new LeaseKeeper(leases, "test-keeper")) {
            Held one = acquire(keeper, prefix + "-1", "a");
            Held two = acquire(keeper, prefix + "-2", "a");
            Held three = acquire(keeper, prefix + "-3", "a");
            databases.overwriteOwner(kind, prefix + "-2", "b");
            assertEquals("taken over by b", two.whenLost().toCompletableFuture().get(1, TimeUnit.SECONDS));
            Thread.sleep(1_500);
            assertTrue(one.valid() && three.valid(), one + ", " + three);
            assertFalse(two.valid());
        }
    }

    /** The database unreachable from a (its pool closed): renewals fail, the hold runs out, the row stays. */
    @ParameterizedTest
    @EnumSource(Kind.class)
    void aHolderCutOffFromTheDatabaseStopsWhenItsValidityRunsOut(Kind kind) throws Exception {
        String name = LeaseDatabases.unique("cut-off");
        Database own = Database.open(databases.get(kind).settings());
        DatabaseLeases cutOff = new DatabaseLeases(own.dataSource(), own.settings().backend(), LeaseDatabases.fast());
        try (LeaseKeeper keeper = new LeaseKeeper(cutOff, "test-keeper-cut-off")) {
            Held held = acquire(keeper, name, "a");
            own.close();
            long cut = System.nanoTime();
            String reason = held.whenLost().toCompletableFuture().get(3, TimeUnit.SECONDS);
            assertTrue(reason.startsWith("expired"), reason);
            assertTrue(System.nanoTime() - cut < TimeUnit.MILLISECONDS.toNanos(1_500),
                    "noticed by the next renewal round after the timeout");
            assertEquals(Optional.of("a"), databases.leases(kind, LeaseDatabases.fast()).owner(name),
                    "the row waits for its expiry");
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void releaseDeletesTheRowAndIsNotALoss(Kind kind) throws Exception {
        DatabaseLeases leases = databases.leases(kind, LeaseDatabases.fast());
        String name = LeaseDatabases.unique("release");
        try (LeaseKeeper keeper = new LeaseKeeper(leases, "test-keeper")) {
            Held held = acquire(keeper, name, "a");
            held.release().toCompletableFuture().get(5, TimeUnit.SECONDS);
            assertFalse(held.valid());
            assertEquals(Optional.of("released"), held.lostReason());
            assertEquals(Optional.empty(), leases.owner(name));
            Thread.sleep(600); // three renewal rounds
            assertFalse(held.whenLost().toCompletableFuture().isDone());
            assertEquals(Optional.empty(), leases.owner(name), "not renewed back");
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void aNewerHoldSupersedesTheOlderWhoseReleaseKeepsTheRow(Kind kind) throws Exception {
        DatabaseLeases leases = databases.leases(kind, LeaseDatabases.fast());
        String name = LeaseDatabases.unique("superseded");
        try (LeaseKeeper keeper = new LeaseKeeper(leases, "test-keeper")) {
            Held older = acquire(keeper, name, "a");
            Held newer = acquire(keeper, name, "a");
            assertFalse(older.valid());
            assertTrue(older.whenLost().toCompletableFuture().getNow("").startsWith("superseded"));
            older.release().toCompletableFuture().get(5, TimeUnit.SECONDS);
            assertEquals(Optional.of("a"), leases.owner(name));
            Thread.sleep(1_500);
            assertTrue(newer.valid(), newer.toString());
        }
    }

    /** A job stopped and restarted at once: its release must not delete the row its new hold relies on. */
    @ParameterizedTest
    @EnumSource(Kind.class)
    void aReleaseFollowedAtOnceByAnAcquireKeepsTheNewHold(Kind kind) throws Exception {
        DatabaseLeases leases = databases.leases(kind, LeaseDatabases.fast());
        String name = LeaseDatabases.unique("release-acquire");
        try (LeaseKeeper keeper = new LeaseKeeper(leases, "test-keeper")) {
            Held first = acquire(keeper, name, "a");
            CompletableFuture<Void> released = first.release().toCompletableFuture();
            Held second = acquire(keeper, name, "a");
            released.get(5, TimeUnit.SECONDS);
            assertEquals(Optional.of("a"), leases.owner(name), "the row of the second hold");
            Thread.sleep(600);
            assertTrue(second.valid(), second.toString());
            assertFalse(leases.tryAcquire(name, "b"));
        }
    }
}
