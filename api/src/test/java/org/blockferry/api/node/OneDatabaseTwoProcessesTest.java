package org.blockferry.api.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.blockferry.nbd.testing.DiskChecksum;
import org.blockferry.nbd.testing.NbdkitServer;
import org.blockferry.nbd.testing.TestPeers;
import org.blockferry.persistence.Database;
import org.blockferry.persistence.PersistenceSettings;
import org.blockferry.persistence.readside.JobQueries;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Processes on one H2 file that are not one cluster never run the same job: a second
 * {@code replicate} of a running job refuses, naming the process that runs it; a {@code serve}
 * started next to a {@code replicate} waits for the job's lease. Every event of the job comes
 * from one writer, and the target equals the source.
 */
@Tag("cluster")
class OneDatabaseTwoProcessesTest {
    private static final long SIZE = 32L << 20;
    /**
     * The source's rate until the second process has met the running job: 28 MiB at 512 KB/s is
     * about 56 s, far more than a second JVM needs to start on a crowded machine (at 1 MB/s the
     * first once completed while the second was still starting, next to another cluster test).
     * Then {@link ClusterDisks#release}: the rest of the copy takes a second or two.
     */
    private static final String HELD = "4M";
    /** Progress that moves steadily at a slow source's rate. */
    private static final Map<String, String> SMALL_CHUNKS = Map.of("blockferry.copy.chunk-size", "2MiB",
            "blockferry.copy.chunks-in-flight", NodeFixture.CHUNKS_IN_FLIGHT, "blockferry.copy.progress-interval", "1s");
    /**
     * SMALL_CHUNKS with a short lease: a second replicate gives up waiting for it after
     * heartbeat-timeout + takeover-margin + 3 s = 8 s, well within the first's copy while its
     * source is {@link #HELD} (with the default lease, 17 s, it ended a few seconds before the first
     * on a loaded machine).
     */
    private static final Map<String, String> SHORT_LEASE = withShortLease();

    private static Map<String, String> withShortLease() {
        Map<String, String> m = new HashMap<>(SMALL_CHUNKS);
        m.put("blockferry.cluster.lease.heartbeat-timeout", "4s");
        m.put("blockferry.cluster.lease.heartbeat-interval", "1s");
        m.put("blockferry.cluster.lease.takeover-margin", "1s");
        return Map.copyOf(m);
    }

    @Test
    void aSecondReplicateOfARunningJobRefusesAndTheFirstCompletes() throws Exception {
        Path dir = TestPeers.scratchDirectory("two-replicates-");
        Path src = ClusterDisks.randomFile(dir.resolve("src.img"), SIZE, 31);
        PersistenceSettings db = TestDatabases.create(TestDatabases.Kind.H2, dir);
        try (NbdkitServer source = ClusterDisks.slowSource(dir, src, HELD);
             NbdkitServer target = ClusterDisks.loggedTarget(dir, dir.resolve("dst.img"), SIZE, dir.resolve("t.log"))) {
            Path job = Files.writeString(dir.resolve("job.json"), ClusterDisks.job("twice", source.uri(), target.uri()));
            Process first = ReplicateProcess.start(dir, db, job, "first.log", SHORT_LEASE);
            try (Database reader = Database.open(db)) {
                reader.applySchema(); // whoever comes first creates it
                JobQueries queries = new JobQueries(reader.dataSource(), db.backend());
                ReplicateProcess.awaitRow(queries, "twice", first, dir.resolve("first.log"),
                        d -> d.status().equals("running") && d.bytesTransferred() > 0);
                Process second = ReplicateProcess.start(dir, db, job, "second.log", SHORT_LEASE);
                assertTrue(second.waitFor(90, TimeUnit.SECONDS), "the second replicate ends");
                String secondLog = Files.readString(dir.resolve("second.log"));
                assertEquals(1, second.exitValue(), secondLog);
                assertTrue(secondLog.contains("waiting up to 8 s")
                        && secondLog.contains("runs in another process, which is alive")
                        && secondLog.contains("(pid " + first.pid() + ")"), secondLog);
                assertTrue(first.isAlive(), "the first still runs the job");
                ClusterDisks.release(src);

                assertTrue(first.waitFor(3, TimeUnit.MINUTES), "the first replicate ends");
                assertEquals(0, first.exitValue(), Files.readString(dir.resolve("first.log")));
                assertEquals(List.of(1), writers(reader, "twice"), "one process wrote the job's events");
            } finally {
                first.destroyForcibly();
            }
            assertEquals(DiskChecksum.ofFile(src), DiskChecksum.ofFile(dir.resolve("dst.img")));
        }
    }

    @Test
    void aServeNextToAReplicateWaitsForTheJobsLease() throws Exception {
        Path dir = TestPeers.scratchDirectory("serve-and-replicate-");
        Path src = ClusterDisks.randomFile(dir.resolve("src.img"), SIZE, 32);
        PersistenceSettings db = TestDatabases.create(TestDatabases.Kind.H2, dir);
        try (NbdkitServer source = ClusterDisks.slowSource(dir, src, HELD);
             NbdkitServer target = ClusterDisks.loggedTarget(dir, dir.resolve("dst.img"), SIZE, dir.resolve("t.log"))) {
            Path job = Files.writeString(dir.resolve("job.json"), ClusterDisks.job("shared", source.uri(), target.uri()));
            Process replicate = ReplicateProcess.start(dir, db, job, "replicate.log", SMALL_CHUNKS);
            try (Database reader = Database.open(db)) {
                reader.applySchema(); // whoever comes first creates it
                JobQueries queries = new JobQueries(reader.dataSource(), db.backend());
                ReplicateProcess.awaitRow(queries, "shared", replicate, dir.resolve("replicate.log"),
                        d -> d.status().equals("running") && d.bytesTransferred() > 0);
                try (NodeProcess serve = NodeProcess.start(dir, "serve", db, Map.of(
                        "blockferry.http.token", ClusterNodes.TOKEN,
                        "blockferry.storage.allowed-roots", dir.toString()), ClusterNodes.infoLogback(dir))) {
                    assertTrue(serve.awaitLog("event=job-waits-for-owner job=shared", Duration.ofMinutes(1)),
                            "serve waits for the job: " + serve.log());
                    assertTrue(serve.log().contains("(pid " + replicate.pid() + ")"), serve.log());
                    ClusterDisks.release(src);
                    assertTrue(replicate.waitFor(3, TimeUnit.MINUTES), "replicate ends");
                    assertEquals(0, replicate.exitValue(), Files.readString(dir.resolve("replicate.log")));
                    // serve owns the job now; the replicate wrote its events after serve recovered
                    // them, so serve recovers again (and finds it completed) before it writes anything
                    assertTrue(serve.awaitLog("event=job-recovers-again job=shared", Duration.ofSeconds(30)),
                            serve.log());
                    Thread.sleep(3000);
                    assertTrue(serve.process().isAlive(), serve.log());
                    assertFalse(serve.log().contains("Failed to persist"), "no stale event: " + serve.log());
                }
                assertEquals(List.of(1), writers(reader, "shared"), "one process wrote the job's events");
                assertEquals("completed", queries.get("shared").orElseThrow().status());
            } finally {
                replicate.destroyForcibly();
            }
            assertEquals(DiskChecksum.ofFile(src), DiskChecksum.ofFile(dir.resolve("dst.img")));
        }
    }

    /** How many processes wrote the job's events (the journal's writer column: one uuid per process). */
    private static List<Integer> writers(Database db, String jobId) throws Exception {
        List<Integer> out = new ArrayList<>();
        try (Connection c = db.dataSource().getConnection();
             PreparedStatement s = c.prepareStatement(
                     "SELECT COUNT(DISTINCT \"writer\") FROM \"event_journal\" WHERE \"persistence_id\" = ?")) {
            s.setString(1, "ReplicationJob|" + jobId);
            try (ResultSet r = s.executeQuery()) {
                r.next();
                out.add(r.getInt(1));
            }
        }
        return out;
    }
}
