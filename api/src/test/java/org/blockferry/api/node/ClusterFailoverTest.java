package org.blockferry.api.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.blockferry.nbd.testing.DiskChecksum;
import org.blockferry.nbd.testing.NbdkitServer;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.Test;

/**
 * Three node processes on one PostgreSQL; a two-disk job slowed by nbdkit's rate filter; the node
 * that copies it is killed with SIGKILL. The survivors down it, the job's shard starts on one of
 * them by itself, the job resumes from its checkpoints and completes; both targets equal their
 * sources.
 */
class ClusterFailoverTest {
    private static final long SIZE = 64L << 20;
    private static final long CHECKPOINT = 8L << 20;

    @Test
    void aJobOfAKilledNodeCompletesOnASurvivor() throws Exception {
        Path dir = TestPeers.scratchDirectory("cluster-failover-");
        Path src0 = ClusterDisks.randomFile(dir.resolve("src0.img"), SIZE, 1);
        Path src1 = ClusterDisks.randomFile(dir.resolve("src1.img"), SIZE, 2);
        try (NbdkitServer s0 = ClusterDisks.slowSource(dir, src0, "16M");
             NbdkitServer s1 = ClusterDisks.slowSource(dir, src1, "16M");
             NbdkitServer t0 = ClusterDisks.loggedTarget(dir, dir.resolve("dst0.img"), SIZE, dir.resolve("t0.log"));
             NbdkitServer t1 = ClusterDisks.loggedTarget(dir, dir.resolve("dst1.img"), SIZE, dir.resolve("t1.log"));
             ClusterNodes cluster = ClusterNodes.start(dir, 3, Map.of())) {
            HttpResponse<String> accepted = cluster.post(1, "/api/v1/jobs",
                    ClusterDisks.job("failover", s0.uri(), t0.uri(), s1.uri(), t1.uri()));
            assertEquals(202, accepted.statusCode(), accepted.body());

            JsonNode copying = cluster.await("failover", j -> j.path("status").asText().equals("running")
                    && j.path("bytes_transferred").asLong() > 2 * CHECKPOINT, Duration.ofMinutes(2));
            String owner = copying.path("node").asText();
            int victim = cluster.indexOf(owner);
            cluster.node(victim).kill();
            long killedAt = System.nanoTime();

            // copying again elsewhere: another node runs it and its bytes grow there
            long[] seen = {-1};
            JsonNode moved = cluster.await("failover", j -> {
                if (j.path("node").asText().equals(owner) || !j.path("status").asText().equals("running")) {
                    return false;
                }
                long bytes = j.path("bytes_transferred").asLong();
                boolean growing = seen[0] >= 0 && bytes > seen[0];
                seen[0] = bytes;
                return growing;
            }, Duration.ofSeconds(60));
            double failover = (System.nanoTime() - killedAt) / 1e9;
            System.out.printf("cluster failover: job copying again on %s %.1f s after SIGKILL of %s%n",
                    moved.path("node").asText(), failover, owner);
            assertTrue(failover <= 30, "copying again " + failover + " s after the kill (at most 30 s)\n"
                    + cluster.logs());

            JsonNode done = cluster.await("failover", j -> j.path("status").asText().equals("completed")
                    || j.path("status").asText().equals("failed"), Duration.ofMinutes(3));
            assertEquals("completed", done.path("status").asText(), done.toString());
            assertNotEquals(owner, done.path("node").asText());
            for (JsonNode d : done.path("disks")) {
                assertTrue(d.path("resumes").asInt() >= 1, d.toString());
                assertTrue(d.path("bytes_recopied").asLong() <= CHECKPOINT,
                        "at most one checkpoint interval copied again: " + d);
            }
            assertEquals(DiskChecksum.ofFile(src0), DiskChecksum.ofFile(dir.resolve("dst0.img")));
            assertEquals(DiskChecksum.ofFile(src1), DiskChecksum.ofFile(dir.resolve("dst1.img")));
        }
    }
}
