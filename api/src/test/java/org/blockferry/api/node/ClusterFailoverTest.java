package org.blockferry.api.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.net.http.HttpRequest;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.blockferry.api.http.SseClient;
import java.time.Duration;
import java.time.LocalTime;
import java.util.Map;
import org.blockferry.nbd.testing.DiskChecksum;
import org.blockferry.nbd.testing.NbdkitServer;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Three node processes on one PostgreSQL; a two-disk job slowed by nbdkit's rate filter; the node
 * that copies it is killed with SIGKILL. The survivors down it, the job's shard starts on one of
 * them by itself, the job resumes from its checkpoints and completes; both targets equal their
 * sources.
 */
@Tag("cluster")
class ClusterFailoverTest {
    private static final long SIZE = 64L << 20;
    private static final long CHECKPOINT = 8L << 20;

    private static CompletableFuture<SseClient.Seen> subscribe(ClusterNodes cluster, int node, Long lastEventId) {
        HttpRequest.Builder request = cluster.request(node, "/api/v1/jobs/failover/events");
        if (lastEventId != null) {
            request.header("Last-Event-ID", Long.toString(lastEventId));
        }
        HttpRequest built = request.build();
        return CompletableFuture.supplyAsync(() -> {
            try {
                return SseClient.read(cluster.http(), built, e -> e.isState("completed") || e.isState("failed"),
                        Duration.ofMinutes(4));
            } catch (Exception e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        }, Executors.newSingleThreadExecutor());
    }

    /** The ids of the state events after {@code after}. */
    private static List<Long> stateIds(SseClient.Seen seen, long after) {
        return seen.events().stream().filter(e -> "state".equals(e.event()) && e.id() != null && e.id() > after)
                .map(SseClient.Event::id).toList();
    }

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
            // a subscriber on every node, the victim's included
            List<CompletableFuture<SseClient.Seen>> streams = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                streams.add(subscribe(cluster, i, null));
            }
            Thread.sleep(3000); // each has its first event
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

            // the victim's subscriber lost its stream: it reconnects to a survivor with Last-Event-ID
            SseClient.Seen lost = streams.get(victim).get(1, TimeUnit.MINUTES);
            assertTrue(lost.states().stream().noneMatch(s -> s.equals("completed")), lost.states().toString());
            long lastId = lost.events().stream().filter(e -> e.id() != null).mapToLong(SseClient.Event::id).max()
                    .orElseThrow(() -> new AssertionError("the victim's subscriber saw no event"));
            int survivor = (victim + 1) % 3;
            CompletableFuture<SseClient.Seen> resubscribed = subscribe(cluster, survivor, lastId);
            ClusterDisks.release(src0, src1); // the survivor copies the rest fast
            SseClient.Seen again = resubscribed.get(4, TimeUnit.MINUTES);

            JsonNode done = cluster.await("failover", j -> j.path("status").asText().equals("completed")
                    || j.path("status").asText().equals("failed"), Duration.ofMinutes(3));
            assertEquals("completed", done.path("status").asText(), done.toString());
            assertNotEquals(owner, done.path("node").asText());
            for (JsonNode d : done.path("disks")) {
                assertTrue(d.path("resumes").asInt() >= 1, d.toString());
                assertTrue(d.path("bytes_recopied").asLong() <= CHECKPOINT,
                        "at most one checkpoint interval copied again: " + d);
            }
            // subscribers on the survivors streamed through the failover to the end
            SseClient.Seen through = null;
            for (int i = 0; i < 3; i++) {
                if (i != victim) {
                    through = streams.get(i).get(4, TimeUnit.MINUTES);
                    assertEquals("completed", through.states().get(through.states().size() - 1),
                            "node " + i + ": " + through.states());
                }
            }
            // the reconnected subscriber got only newer events, every state the survivors' got after lastId
            assertTrue(again.events().stream().filter(e -> e.id() != null).allMatch(e -> e.id() > lastId),
                    "only events after Last-Event-ID " + lastId);
            assertEquals("completed", again.states().get(again.states().size() - 1), again.states().toString());
            List<Long> missed = stateIds(through, lastId);
            assertTrue(stateIds(again, lastId).containsAll(missed), "missed nothing: " + missed + " vs "
                    + stateIds(again, lastId));
            assertEquals(DiskChecksum.ofFile(src0), DiskChecksum.ofFile(dir.resolve("dst0.img")));
            assertEquals(DiskChecksum.ofFile(src1), DiskChecksum.ofFile(dir.resolve("dst1.img")));
        }
    }
}
