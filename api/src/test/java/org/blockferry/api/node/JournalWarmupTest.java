package org.blockferry.api.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.ActorNotFound;
import org.apache.pekko.actor.ActorRef;
import org.apache.pekko.actor.ActorSystem;
import org.blockferry.engine.actor.JournalWarmup;
import org.blockferry.nbd.testing.TestPeers;
import org.blockferry.persistence.PersistenceSettings;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A node starts its journal and snapshot plugins while it starts, before any job asks for them
 * ({@link JournalWarmup}), and the warm-up leaves no trace: nothing written, its actor gone.
 */
class JournalWarmupTest {

    @ParameterizedTest
    @EnumSource(TestDatabases.Kind.class)
    void theJournalIsUpBeforeAnyJobAndTheWarmupWritesNothing(TestDatabases.Kind kind) throws Exception {
        Path dir = TestPeers.scratchDirectory("journal-warmup-");
        PersistenceSettings db = TestDatabases.create(kind, dir);
        try (Node node = NodeFixture.start(dir, db, Map.of())) {
            ActorSystem classic = node.system().classicSystem();
            // no job was submitted: only the warm-up can have started the plugins
            resolve(classic, "/system/jdbc-journal", Duration.ofSeconds(10));
            resolve(classic, "/system/jdbc-snapshot-store", Duration.ofSeconds(10));
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (exists(classic, "/system/journal-warmup") && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertThrows(ExecutionException.class, () -> classic.actorSelection("/system/journal-warmup")
                    .resolveOne(Duration.ofMillis(500)).toCompletableFuture().get(), "the warm-up stops once recovered");
            try (Connection c = node.database().dataSource().getConnection();
                 PreparedStatement all = c.prepareStatement("SELECT COUNT(*) FROM \"event_journal\"");
                 PreparedStatement mine = c.prepareStatement(
                         "SELECT COUNT(*) FROM \"event_journal\" WHERE \"persistence_id\" = ?")) {
                mine.setString(1, JournalWarmup.PERSISTENCE_ID);
                assertEquals(0, count(mine), "no event under the warm-up's id");
                assertEquals(0, count(all), "nothing in the journal of a node that ran no job");
            }
        }
    }

    private static ActorRef resolve(ActorSystem system, String path, Duration within) throws Exception {
        long deadline = System.nanoTime() + within.toNanos();
        while (true) {
            try {
                return system.actorSelection(path).resolveOne(Duration.ofMillis(200)).toCompletableFuture()
                        .get(1, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof ActorNotFound) || System.nanoTime() > deadline) {
                    throw new AssertionError(path + " was not started within " + within, e);
                }
                Thread.sleep(20);
            }
        }
    }

    private static boolean exists(ActorSystem system, String path) throws InterruptedException {
        try {
            system.actorSelection(path).resolveOne(Duration.ofMillis(200)).toCompletableFuture().get();
            return true;
        } catch (ExecutionException e) {
            return false;
        }
    }

    private static long count(PreparedStatement s) throws Exception {
        try (ResultSet r = s.executeQuery()) {
            r.next();
            return r.getLong(1);
        }
    }
}
