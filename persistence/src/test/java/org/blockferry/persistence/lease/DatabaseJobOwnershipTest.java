package org.blockferry.persistence.lease;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.blockferry.engine.cluster.JobOwnership.Attempt;
import org.blockferry.engine.copy.WriteFence;
import org.blockferry.persistence.lease.LeaseDatabases.Kind;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Two processes on one database: one runs the job, the other is told who does; the fence follows the lease. */
class DatabaseJobOwnershipTest {

    /** These tests own jobs that have no events. */
    private static final DatabaseJobOwnership.JournalEnd NO_JOURNAL = jobId -> -1;
    private static final String NODE_A = "pekko://blockferry@127.0.0.1:25520#1 (pid 101)";
    private static final String NODE_B = "pekko://blockferry@127.0.0.1:25521#2 (pid 102)";

    private static LeaseDatabases databases;
    private static ExecutorService io;

    @BeforeAll
    static void open() {
        databases = new LeaseDatabases("ownership");
        io = Executors.newFixedThreadPool(2, r -> new Thread(r, "test-lease-io"));
    }

    @AfterAll
    static void close() throws Exception {
        io.shutdownNow();
        databases.close();
    }

    private static Attempt attempt(DatabaseJobOwnership ownership, String jobId) throws Exception {
        return ownership.tryAcquire(jobId).toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void oneProcessOwnsAJobAndTheOtherIsToldWhichOne(Kind kind) throws Exception {
        DatabaseLeases leases = databases.leases(kind, LeaseDatabases.fast());
        String job = LeaseDatabases.unique("job");
        try (LeaseKeeper keeperA = new LeaseKeeper(leases, "test-keeper-a");
             LeaseKeeper keeperB = new LeaseKeeper(leases, "test-keeper-b")) {
            DatabaseJobOwnership a = new DatabaseJobOwnership(keeperA, NODE_A, io, NO_JOURNAL);
            DatabaseJobOwnership b = new DatabaseJobOwnership(keeperB, NODE_B, io, NO_JOURNAL);

            Attempt first = attempt(a, job);
            assertTrue(first.owned());
            assertNull(first.otherOwner());
            assertEquals(Optional.of(NODE_A), leases.owner("job:" + job));

            Attempt second = attempt(b, job);
            assertFalse(second.owned());
            assertEquals(NODE_A, second.otherOwner());

            first.hold().check();
            first.hold().giveBack().toCompletableFuture().get(5, TimeUnit.SECONDS);
            WriteFence.Closed closed = assertThrows(WriteFence.Closed.class, () -> first.hold().check());
            assertEquals("this node's ownership of the job has ended (released)", closed.getMessage());

            Attempt third = attempt(b, job);
            assertTrue(third.owned(), "given back: b may run it");
            third.hold().check();
            assertEquals(NODE_B, attempt(a, job).otherOwner());
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void theFenceClosesWhenTheJobIsTakenOver(Kind kind) throws Exception {
        DatabaseLeases leases = databases.leases(kind, LeaseDatabases.fast());
        String job = LeaseDatabases.unique("job-taken");
        try (LeaseKeeper keeper = new LeaseKeeper(leases, "test-keeper")) {
            Attempt owned = attempt(new DatabaseJobOwnership(keeper, NODE_A, io, NO_JOURNAL), job);
            databases.overwriteOwner(kind, "job:" + job, NODE_B);
            Thread.sleep(600); // the next renewal finds it
            assertFalse(owned.hold().valid());
            WriteFence.Closed closed = assertThrows(WriteFence.Closed.class, () -> owned.hold().check());
            assertTrue(closed.getMessage().endsWith("(taken over by " + NODE_B + ")"), closed.getMessage());
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void aJobIdTooLongForALeaseNameFailsTheAttemptAndWritesNothing(Kind kind) throws Exception {
        DatabaseLeases leases = databases.leases(kind, LeaseDatabases.fast());
        String job = LeaseDatabases.unique("job-long");
        try (LeaseKeeper keeper = new LeaseKeeper(leases, "test-keeper")) {
            String longId = job + "x".repeat(300);
            ExecutionException failed = assertThrows(ExecutionException.class,
                    () -> attempt(new DatabaseJobOwnership(keeper, NODE_A, io, NO_JOURNAL), longId));
            assertInstanceOf(IllegalArgumentException.class, failed.getCause());
            assertEquals(0, databases.rows(kind, "job:" + job));
            assertThrows(IllegalArgumentException.class, () -> new DatabaseJobOwnership(keeper, "o".repeat(501), io, NO_JOURNAL));
        }
    }
}
