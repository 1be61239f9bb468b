package org.blockferry.api.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.blockferry.nbd.testing.DiskChecksum;
import org.blockferry.nbd.testing.NbdkitServer;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * SIGTERM makes a node leave gracefully: its jobs move and resume elsewhere within 10 s, then it
 * exits. A rolling restart of every node, one after another, while jobs run: every job
 * completes and every target equals its source.
 */
@Tag("cluster")
class ClusterLeaveTest {
    private static final long SIZE = 48L << 20;

    @Test
    void aStoppedNodesJobResumesElsewhereWithinTenSeconds() throws Exception {
        Path dir = TestPeers.scratchDirectory("cluster-leave-");
        Path src = ClusterDisks.randomFile(dir.resolve("src.img"), SIZE, 4);
        try (NbdkitServer source = ClusterDisks.slowSource(dir, src, "16M");
             NbdkitServer target = ClusterDisks.loggedTarget(dir, dir.resolve("dst.img"), SIZE, dir.resolve("t.log"));
             ClusterNodes cluster = ClusterNodes.start(dir, 3, Map.of())) {
            HttpResponse<String> accepted = cluster.post(2, "/api/v1/jobs",
                    ClusterDisks.job("leaving", source.uri(), target.uri()));
            assertEquals(202, accepted.statusCode(), accepted.body());
            JsonNode copying = cluster.await("leaving", j -> j.path("status").asText().equals("running")
                    && j.path("bytes_transferred").asLong() > (8L << 20), Duration.ofMinutes(2));
            int leaving = cluster.indexOf(copying.path("node").asText());

            LocalTime stoppedAt = LocalTime.now();
            assertTrue(cluster.node(leaving).stop(Duration.ofSeconds(60)), "the node stops\n" + cluster.logs());
            assertEquals(143, cluster.node(leaving).process().exitValue(), cluster.node(leaving).log());
            LocalTime resumed = null;
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (resumed == null && System.nanoTime() < deadline) {
                Thread.sleep(200);
                resumed = cluster.copyingSince(stoppedAt, leaving);
            }
            assertNotNull(resumed, "no node copies the job after the leave\n" + cluster.logs());
            double seconds = Duration.between(stoppedAt, resumed).toMillis() / 1000.0;
            System.out.printf("cluster leave: job copying again %.1f s after SIGTERM%n", seconds);
            assertTrue(seconds <= 10, "resumed " + seconds + " s after SIGTERM (at most 10 s)\n" + cluster.logs());
            ClusterDisks.release(src);

            JsonNode done = cluster.await("leaving", j -> j.path("status").asText().equals("completed")
                    || j.path("status").asText().equals("failed"), Duration.ofMinutes(3));
            assertEquals("completed", done.path("status").asText(), done.toString());
            assertEquals(DiskChecksum.ofFile(src), DiskChecksum.ofFile(dir.resolve("dst.img")));
        }
    }

    @Test
    void aRollingRestartOfEveryNodeLosesNoJob() throws Exception {
        Path dir = TestPeers.scratchDirectory("cluster-rolling-");
        List<NbdkitServer> servers = new ArrayList<>();
        List<Path> sources = new ArrayList<>();
        try (ClusterNodes cluster = ClusterNodes.start(dir, 3, Map.of())) {
            for (int j = 0; j < 3; j++) {
                Path src = ClusterDisks.randomFile(dir.resolve("src" + j + ".img"), SIZE, 10 + j);
                sources.add(src);
                NbdkitServer s = ClusterDisks.slowSource(dir, src, "12M");
                NbdkitServer t = ClusterDisks.loggedTarget(dir, dir.resolve("dst" + j + ".img"), SIZE,
                        dir.resolve("t" + j + ".log"));
                servers.add(s);
                servers.add(t);
                HttpResponse<String> accepted = cluster.post(j, "/api/v1/jobs",
                        ClusterDisks.job("rolling" + j, s.uri(), t.uri()));
                assertEquals(202, accepted.statusCode(), accepted.body());
            }
            for (int j = 0; j < 3; j++) {
                cluster.await("rolling" + j, d -> d.path("status").asText().equals("running"), Duration.ofMinutes(1));
            }
            for (int i = 0; i < 3; i++) {
                cluster.restart(i, Duration.ofSeconds(60));
                for (int k = 0; k < 3; k++) {
                    cluster.awaitUp(k, 3, Duration.ofMinutes(2));
                }
            }
            ClusterDisks.release(sources.toArray(Path[]::new));
            for (int j = 0; j < 3; j++) {
                JsonNode done = cluster.await("rolling" + j, d -> d.path("status").asText().equals("completed")
                        || d.path("status").asText().equals("failed"), Duration.ofMinutes(4));
                assertEquals("completed", done.path("status").asText(), done.toString());
                assertEquals(DiskChecksum.ofFile(sources.get(j)), DiskChecksum.ofFile(dir.resolve("dst" + j + ".img")),
                        "target " + j);
            }
        } finally {
            for (NbdkitServer s : servers) {
                s.close();
            }
        }
    }
}
