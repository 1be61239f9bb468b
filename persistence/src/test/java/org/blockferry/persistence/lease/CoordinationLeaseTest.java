package org.blockferry.persistence.lease;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.coordination.lease.LeaseException;
import org.apache.pekko.coordination.lease.javadsl.Lease;
import org.apache.pekko.coordination.lease.javadsl.LeaseProvider;
import org.blockferry.persistence.Database;
import org.blockferry.persistence.lease.LeaseDatabases.Kind;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The split-brain resolver's lease as Pekko loads it (LeaseProvider, lease-class at
 * blockferry.cluster.sbr-lease), on H2 and PostgreSQL, with timeout 1 s and renewals every 0.2 s.
 */
class CoordinationLeaseTest {

    private static final Config FAST = ConfigFactory.parseString("""
            blockferry.cluster.sbr-lease {
              heartbeat-timeout = 1s
              heartbeat-interval = 200ms
              lease-operation-timeout = 2s
              takeover-margin = 300ms
            }
            """).withFallback(ConfigFactory.load()).resolve();

    private static LeaseDatabases databases;

    @BeforeAll
    static void open() {
        databases = new LeaseDatabases("coordination");
    }

    @AfterAll
    static void close() throws Exception {
        databases.close();
    }

    private static ActorSystem system(Kind kind) throws Exception {
        ActorSystem system = ActorSystem.create("lease-test", FAST);
        if (kind != null) {
            Database db = databases.get(kind);
            LeaseDatabase.set(system, db.dataSource(), db.settings().backend());
        }
        return system;
    }

    private static void stop(ActorSystem system) throws Exception {
        system.terminate();
        system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }

    private static Lease lease(ActorSystem system, String name, String owner) {
        return LeaseProvider.get(system).getLease(name, CoordinationLease.CONFIG_PATH, owner);
    }

    private static <T> T await(CompletionStage<T> stage) throws Exception {
        return stage.toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void acquiresChecksAndReleasesAsTheSplitBrainResolverDoes(Kind kind) throws Exception {
        ActorSystem system = system(kind);
        try {
            String name = LeaseDatabases.unique("sbr");
            Lease a = lease(system, name, "node-a");
            Lease b = lease(system, name, "node-b");
            assertFalse(a.checkLease(), "not acquired yet");
            assertTrue(await(a.acquire()));
            assertTrue(a.checkLease());
            assertFalse(await(b.acquire()));
            assertFalse(b.checkLease());

            Thread.sleep(1_600); // past timeout + margin: a's renewals keep it
            assertTrue(a.checkLease());
            assertFalse(await(b.acquire()));

            assertTrue(await(a.release()));
            assertFalse(a.checkLease());
            assertFalse(await(a.release()), "nothing left to release");
            assertTrue(await(b.acquire()));
            assertEquals(Optional.of("node-b"), databases.leases(kind, LeaseDatabases.fast()).owner(name));
        } finally {
            stop(system);
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void theLostCallbackIsCalledOnceWhenTheLeaseIsTakenOver(Kind kind) throws Exception {
        ActorSystem system = system(kind);
        try {
            String name = LeaseDatabases.unique("sbr-lost");
            Lease a = lease(system, name, "node-a");
            List<Optional<Throwable>> lost = new CopyOnWriteArrayList<>();
            assertTrue(await(a.acquire(lost::add)));
            databases.overwriteOwner(kind, name, "node-b");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
            while (lost.isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertEquals(1, lost.size(), "lost: " + lost);
            Throwable cause = lost.get(0).orElseThrow();
            assertInstanceOf(LeaseException.class, cause);
            assertTrue(cause.getMessage().endsWith("lost by node-a: taken over by node-b"), cause.getMessage());
            assertFalse(a.checkLease());
            assertFalse(await(a.release()));
            Thread.sleep(500);
            assertEquals(1, lost.size(), "called once");
        } finally {
            stop(system);
        }
    }

    /** The resolver may ask before the node opened its database: the answer waits, then fails by name. */
    @Test
    void anAcquireBeforeTheNodeSetItsDatabaseWaitsThenSaysWhoMustSetIt() throws Exception {
        ActorSystem system = system(null);
        try {
            String name = LeaseDatabases.unique("sbr-unset");
            Lease a = lease(system, name, "node-a");
            ExecutionException failed = assertThrows(ExecutionException.class, () -> await(a.acquire()));
            Throwable cause = failed.getCause();
            assertInstanceOf(LeaseException.class, cause);
            assertTrue(cause.getMessage().contains("the node must call LeaseDatabase.set(system, dataSource, backend)"),
                    cause.getMessage());

            Database db = databases.get(Kind.H2);
            LeaseDatabase.set(system, db.dataSource(), db.settings().backend());
            assertTrue(await(a.acquire()));
            assertTrue(a.checkLease());
        } finally {
            stop(system);
        }
    }
}
