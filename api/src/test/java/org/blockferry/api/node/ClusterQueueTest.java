package org.blockferry.api.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.blockferry.nbd.testing.DiskChecksum;
import org.blockferry.nbd.testing.NbdkitServer;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Jobs over the cluster: two jobs that write one target, submitted to two nodes, run one after
 * the other; ten jobs queued cluster-wide (one running per node) all complete once each, also
 * when the node that hosts the shard coordinator is killed on the way.
 */
@Tag("cluster")
class ClusterQueueTest {
    private static final long SIZE = 16L << 20;

    @Test
    void twoJobsWritingOneTargetFromTwoNodesRunOneAfterTheOther() throws Exception {
        Path dir = TestPeers.scratchDirectory("cluster-target-");
        Path srcA = ClusterDisks.randomFile(dir.resolve("a.img"), SIZE, 21);
        Path srcB = ClusterDisks.randomFile(dir.resolve("b.img"), SIZE, 22);
        try (NbdkitServer a = ClusterDisks.slowSource(dir, srcA, "8M");
             NbdkitServer b = ClusterDisks.slowSource(dir, srcB, "64M");
             NbdkitServer target = ClusterDisks.loggedTarget(dir, dir.resolve("dst.img"), SIZE, dir.resolve("t.log"));
             ClusterNodes cluster = ClusterNodes.start(dir, 2, Map.of("blockferry.cluster.downing.strategy",
                     "lease-majority"))) {
            assertEquals(202, cluster.post(0, "/api/v1/jobs", ClusterDisks.job("first", a.uri(), target.uri()))
                    .statusCode());
            cluster.await("first", j -> j.path("status").asText().equals("running"), Duration.ofMinutes(1));
            HttpResponse<String> second = cluster.post(1, "/api/v1/jobs",
                    ClusterDisks.job("second", b.uri(), target.uri()));
            assertEquals(202, second.statusCode(), second.body());
            JsonNode waiting = cluster.await("second", j -> j.path("waiting_for").isTextual()
                    && !j.path("waiting_for").asText().isEmpty(), Duration.ofMinutes(1)); // null is no answer
            assertEquals("queued", waiting.path("status").asText(), waiting.toString());
            assertTrue(waiting.path("waiting_for").asText().contains("first"), waiting.toString());
            ClusterDisks.release(srcA);

            JsonNode first = cluster.await("first", j -> j.path("status").asText().equals("completed"),
                    Duration.ofMinutes(2));
            JsonNode done = cluster.await("second", j -> j.path("status").asText().equals("completed")
                    || j.path("status").asText().equals("failed"), Duration.ofMinutes(2));
            assertEquals("completed", done.path("status").asText(), done.toString());
            assertTrue(done.path("started_at").asText().compareTo(first.path("finished_at").asText()) >= 0,
                    "the second started after the first ended: " + first + " " + done);
            assertEquals(DiskChecksum.ofFile(srcB), DiskChecksum.ofFile(dir.resolve("dst.img")),
                    "the target holds the second job's source");
        }
    }

    @Test
    void tenQueuedJobsCompleteOnceEachWhenTheCoordinatorsNodeIsKilled() throws Exception {
        Path dir = TestPeers.scratchDirectory("cluster-queue-");
        List<NbdkitServer> servers = new ArrayList<>();
        Map<String, Path> sources = new HashMap<>();
        try (ClusterNodes cluster = ClusterNodes.start(dir, 3, Map.of("blockferry.jobs.max-running", "1"))) {
            for (int j = 0; j < 10; j++) {
                Path src = ClusterDisks.randomFile(dir.resolve("src" + j + ".img"), SIZE, 100 + j);
                NbdkitServer s = ClusterDisks.slowSource(dir, src, "16M");
                NbdkitServer t = ClusterDisks.loggedTarget(dir, dir.resolve("dst" + j + ".img"), SIZE,
                        dir.resolve("t" + j + ".log"));
                servers.add(s);
                servers.add(t);
                sources.put("q" + j, src);
                HttpResponse<String> accepted = cluster.post(j % 3, "/api/v1/jobs", ClusterDisks.job("q" + j, s.uri(),
                        t.uri()));
                assertEquals(202, accepted.statusCode(), accepted.body());
            }
            // the oldest node (the first started) hosts the shard coordinators
            awaitRunning(cluster, 3);
            int maxPerNode = maxRunningPerNode(cluster);
            cluster.node(0).kill();
            ClusterDisks.release(sources.values().toArray(Path[]::new));
            // one deadline for all ten, inside the test's own 5-minute timeout, so that a job that
            // never ends fails here with its last document (status, waiting_for) and the nodes' logs
            // (the released jobs take about a second each; the whole test ~1 minute)
            long allEndBy = System.nanoTime() + Duration.ofMinutes(3).toNanos();
            for (int j = 0; j < 10; j++) {
                Duration left = Duration.ofNanos(Math.max(allEndBy - System.nanoTime(), 1_000_000_000L));
                JsonNode done = cluster.await("q" + j, d -> d.path("status").asText().equals("completed")
                        || d.path("status").asText().equals("failed"), left);
                assertEquals("completed", done.path("status").asText(), done.toString());
                assertEquals(DiskChecksum.ofFile(sources.get("q" + j)),
                        DiskChecksum.ofFile(dir.resolve("dst" + j + ".img")), "q" + j);
                maxPerNode = Math.max(maxPerNode, maxRunningPerNode(cluster));
            }
            assertTrue(maxPerNode <= 1, "max-running 1 holds on every node: " + maxPerNode);
            Map<String, Integer> started = count(cluster, "JobStarted");
            Map<String, Integer> completed = count(cluster, "JobCompleted");
            for (int j = 0; j < 10; j++) {
                assertEquals(1, started.getOrDefault("q" + j, 0), "q" + j + " started once: " + started);
                assertEquals(1, completed.getOrDefault("q" + j, 0), "q" + j + " completed once: " + completed);
            }
        } finally {
            for (NbdkitServer s : servers) {
                s.close();
            }
        }
    }

    private static void awaitRunning(ClusterNodes cluster, int jobs) throws Exception {
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        int running = 0;
        while (System.nanoTime() < deadline) {
            running = 0;
            for (JsonNode j : cluster.get(1, "/api/v1/jobs?status=running&limit=100").path("jobs")) {
                running++;
            }
            if (running >= jobs) {
                return;
            }
            Thread.sleep(250);
        }
        throw new AssertionError(running + " jobs running, expected " + jobs + "\n" + cluster.logs());
    }

    /** The most running jobs on one node, by GET /api/v1/cluster on a live node. */
    private static int maxRunningPerNode(ClusterNodes cluster) throws Exception {
        int max = 0;
        for (JsonNode m : cluster.get(cluster.alive().get(0), "/api/v1/cluster").path("members")) {
            max = Math.max(max, m.path("running_jobs").asInt());
        }
        return max;
    }

    /** Per job id, how many events of this kind its journal holds. */
    private static Map<String, Integer> count(ClusterNodes cluster, String event) throws Exception {
        Map<String, Integer> out = new HashMap<>();
        try (Connection c = DriverManager.getConnection(cluster.db().url(), cluster.db().user(),
                cluster.db().password());
             PreparedStatement s = c.prepareStatement("SELECT persistence_id, count(*) FROM event_journal"
                     + " WHERE event_ser_manifest = ? GROUP BY persistence_id")) {
            s.setString(1, "org.blockferry.engine.actor.JobActor$" + event);
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    out.put(r.getString(1).substring(r.getString(1).indexOf('|') + 1), r.getInt(2));
                }
            }
        }
        return out;
    }
}
