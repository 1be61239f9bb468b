package org.blockferry.api.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalTime;
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

            JsonNode started = cluster.await("failover", j -> j.path("status").asText().equals("running")
                    && j.path("bytes_transferred").asLong() > 2 * CHECKPOINT, Duration.ofMinutes(2));
            String owner = started.path("node").asText();
            int victim = cluster.indexOf(owner);
            LocalTime killedAt = LocalTime.now();
            cluster.node(victim).kill();

            // copying again elsewhere: a survivor's log shows a disk's copy planned after the kill
            long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
            LocalTime copying = null;
            while (copying == null && System.nanoTime() < deadline) {
                Thread.sleep(200);
                copying = cluster.copyingSince(killedAt, victim);
            }
            assertNotNull(copying, "no survivor copies the job 90 s after the kill\n" + cluster.logs());
            double failover = Duration.between(killedAt, copying).toMillis() / 1000.0;
            System.out.printf("cluster failover: job copying again %.1f s after SIGKILL of %s%n", failover, owner);
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
