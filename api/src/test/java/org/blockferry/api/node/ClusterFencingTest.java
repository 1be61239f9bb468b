package org.blockferry.api.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.blockferry.nbd.testing.DiskChecksum;
import org.blockferry.nbd.testing.NbdkitServer;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The node copying a job is frozen (SIGSTOP) for longer than the downing timeout; the job moves
 * and completes elsewhere; the frozen node wakes (SIGCONT). By nbdkit's log of the target, the
 * old node's connections write nothing after the new owner's first write, and it opens no new
 * connection after it wakes: it leaves the cluster and ends without writing.
 */
@Tag("cluster")
class ClusterFencingTest {
    private static final long SIZE = 64L << 20;

    @Test
    void aFrozenNodeThatWakesUpWritesNothingMore() throws Exception {
        Path dir = TestPeers.scratchDirectory("cluster-fencing-");
        Path src = ClusterDisks.randomFile(dir.resolve("src.img"), SIZE, 3);
        Path targetLog = dir.resolve("target-requests.log");
        try (NbdkitServer source = ClusterDisks.slowSource(dir, src, "16M");
             NbdkitServer target = ClusterDisks.loggedTarget(dir, dir.resolve("dst.img"), SIZE, targetLog);
             ClusterNodes cluster = ClusterNodes.start(dir, 3, Map.of())) {
            HttpResponse<String> accepted = cluster.post(0, "/api/v1/jobs",
                    ClusterDisks.job("fenced", source.uri(), target.uri()));
            assertEquals(202, accepted.statusCode(), accepted.body());
            JsonNode copying = cluster.await("fenced", j -> j.path("status").asText().equals("running")
                    && j.path("bytes_transferred").asLong() > (16L << 20), Duration.ofMinutes(2));
            String owner = copying.path("node").asText();
            int frozen = cluster.indexOf(owner);

            LocalDateTime pausedAt = LocalDateTime.now();
            cluster.pause(frozen);
            ClusterDisks.release(src); // a frozen node reads nothing; the one that takes over copies fast
            JsonNode done = cluster.await("fenced", j -> j.path("status").asText().equals("completed")
                    || j.path("status").asText().equals("failed"), Duration.ofMinutes(3));
            assertEquals("completed", done.path("status").asText(), done.toString());
            assertNotEquals(owner, done.path("node").asText(), "another node completed it");

            LocalDateTime resumedAt = LocalDateTime.now();
            cluster.resume(frozen);
            Process old = cluster.node(frozen).process();
            assertTrue(old.waitFor(90, TimeUnit.SECONDS), "the woken node ends\n" + cluster.logs());
            assertEquals(1, old.exitValue(), cluster.node(frozen).log());
            assertTrue(cluster.node(frozen).log().contains("removed from its cluster"), cluster.node(frozen).log());

            TargetLog requests = TargetLog.read(targetLog);
            List<Integer> before = requests.connectedBefore(pausedAt);
            assertTrue(!before.isEmpty(), "the frozen node had connections to the target");
            LocalDateTime newOwnerFirstWrite = requests.writes().stream()
                    .filter(l -> !before.contains(l.connection())).map(TargetLog.Line::at).min(LocalDateTime::compareTo)
                    .orElse(null);
            assertNotNull(newOwnerFirstWrite, "the new owner wrote through connections of its own");
            List<TargetLog.Line> late = requests.writes().stream()
                    .filter(l -> before.contains(l.connection()) && l.at().isAfter(newOwnerFirstWrite)).toList();
            assertEquals(List.of(), late, "writes of the frozen node after the new owner's first write");
            List<TargetLog.Line> reconnected = requests.connects().stream().filter(l -> l.at().isAfter(resumedAt))
                    .toList();
            assertEquals(List.of(), reconnected, "connections after the frozen node woke up");
            assertEquals(DiskChecksum.ofFile(src), DiskChecksum.ofFile(dir.resolve("dst.img")));
            System.out.printf("cluster fencing: paused %s at %s, new owner's first write %s, resumed %s%n", owner,
                    pausedAt, newOwnerFirstWrite, resumedAt);
        }
    }
}
