package org.blockferry.api.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.RandomAccessFile;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.blockferry.engine.actor.JobActor;
import org.blockferry.nbd.testing.DiskChecksum;
import org.blockferry.nbd.testing.TestPeers;
import org.blockferry.persistence.Database;
import org.blockferry.persistence.PersistenceSettings;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A node on its embedded H2 database killed with SIGKILL the moment it has accepted a burst of
 * jobs: every job it answered 202 for is there after the restart, and completes with its target
 * equal to its source. (H2 keeps commits in memory for up to half a second by default; the node
 * must not.)
 */
@Tag("cluster") // node processes: run with the other process tests
class H2DurabilityTest {
    private static final String TOKEN = "h2-durability-token-0123456789abcdef";
    private static final int JOBS = 40;
    private static final int SIZE = 1 << 20;

    @Test
    void everyAcceptedJobSurvivesAKillRightAfterItsAnswer() throws Exception {
        Path dir = TestPeers.scratchDirectory("h2-durable-");
        PersistenceSettings db = TestDatabases.create(TestDatabases.Kind.H2, dir);
        Path source = ClusterDisks.randomFile(dir.resolve("source.img"), SIZE, 7);
        Map<String, String> settings = Map.of("blockferry.http.token", TOKEN,
                "blockferry.storage.allowed-roots", dir.toString());
        Path logback = ClusterNodes.infoLogback(dir);

        List<String> accepted = new ArrayList<>();
        try (NodeProcess first = NodeProcess.start(dir, "first", db, settings, logback)) {
            NodeHttp api = new NodeHttp(first.awaitUrl(Duration.ofMinutes(2)), TOKEN);
            for (int i = 0; i < JOBS; i++) {
                Path target = dir.resolve("target-" + i + ".img");
                try (RandomAccessFile f = new RandomAccessFile(target.toFile(), "rw")) {
                    f.setLength(SIZE);
                }
                String id = "durable-" + i;
                HttpResponse<String> r = api.postJson("/api/v1/jobs", ClusterDisks.job(id, source.toString(),
                        target.toString()));
                assertEquals(202, r.statusCode(), r.body());
                accepted.add(id);
            }
            first.kill(); // SIGKILL at once: no shutdown hook, no close of the database
            assertEquals(137, first.process().exitValue(), "killed by SIGKILL");
        }

        // What the node promised is in the journal: read it there, not through a restarted
        // node's read side (which may still be catching up, and would answer 404 meanwhile).
        List<String> missing = new ArrayList<>(accepted);
        missing.removeAll(journaled(db));
        assertEquals(List.of(), missing, "jobs answered 202 and lost with the process");

        try (NodeProcess second = NodeProcess.start(dir, "second", db, settings, logback)) {
            NodeHttp api = new NodeHttp(second.awaitUrl(Duration.ofMinutes(2)), TOKEN);
            String expected = DiskChecksum.ofFile(source);
            for (int i = 0; i < JOBS; i++) {
                JsonNode job = api.awaitFinal(accepted.get(i), Duration.ofMinutes(2), second::log);
                assertEquals("completed", job.path("status").asText(), job.toString());
                assertEquals(expected, DiskChecksum.ofFile(dir.resolve("target-" + i + ".img")), accepted.get(i));
            }
        }
    }

    /** The jobs with at least one event in the journal (the file a killed node left). */
    private static List<String> journaled(PersistenceSettings db) throws Exception {
        List<String> jobs = new ArrayList<>();
        try (Database database = Database.open(db); Connection c = database.dataSource().getConnection();
             PreparedStatement s = c.prepareStatement("SELECT DISTINCT \"persistence_id\""
                     + " FROM PUBLIC.\"event_journal\" WHERE \"persistence_id\" LIKE ?")) {
            s.setString(1, JobActor.persistenceIdOf("durable-") + "%");
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    jobs.add(r.getString(1).substring(JobActor.persistenceIdOf("").length()));
                }
            }
        }
        return jobs;
    }
}
