package org.blockferry.api.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.blockferry.api.node.TestDatabases;
import org.blockferry.nbd.testing.NbdkitServer;
import org.blockferry.nbd.testing.TestPeers;
import org.blockferry.api.node.ClusterDisks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code GET /api/v1/cluster} on a one-node cluster: the node itself, up and reachable, leading,
 * with the jobs and disks it runs and the jobs that wait for a slot; every job document names
 * that node. Only with the token.
 */
@Timeout(value = 5, unit = java.util.concurrent.TimeUnit.MINUTES)
class ClusterRouteTest {

    /** A source that reads at 4 Mbit/s (the rate filter counts bits): far longer than the test needs. */
    static NbdkitServer slowSource(Path dir, int seed) {
        return NbdkitServer.start(dir, "--filter=rate", "sparse-random", "size=128M", "percent=100", "seed=" + seed,
                "rate=4M");
    }

    static String job(String id, String... sourceTargetPairs) {
        return ClusterDisks.job(id, sourceTargetPairs);
    }

    @Test
    void aOneNodeClusterShowsItselfUpWithTheJobsAndDisksItRunsAndEachJobNamesIt() throws Exception {
        Path dir = TestPeers.scratchDirectory("cluster-route-");
        try (NbdkitServer source1 = slowSource(dir, 1);
             NbdkitServer source2 = slowSource(dir, 2);
             NbdkitServer target1 = NbdkitServer.start(dir, "memory", "size=128M");
             NbdkitServer target2 = NbdkitServer.start(dir, "memory", "size=128M");
             NbdkitServer target3 = NbdkitServer.start(dir, "memory", "size=128M");
             ApiFixture api = ApiFixture.start(dir, TestDatabases.Kind.H2, null,
                     Map.of("blockferry.jobs.max-running", 1))) {
            HttpResponse<String> anonymous = api.send(api.anonymous("/api/v1/cluster").GET().build());
            assertEquals(401, anonymous.statusCode(), anonymous.body());
            HttpResponse<String> wrong = api.send(api.anonymous("/api/v1/cluster")
                    .header("Authorization", "Bearer not-the-token-0123456789").GET().build());
            assertEquals(401, wrong.statusCode(), wrong.body());

            JsonNode idle = await(api, c -> c.path("members").get(0).path("status").asText().equals("up"),
                    "the node up");
            String self = idle.path("self").asText();
            assertTrue(self.matches("127\\.0\\.0\\.1:\\d+"), idle.toString());
            assertEquals(self, idle.path("leader").asText(), "a one-node cluster leads itself");
            assertEquals(1, idle.path("members").size(), idle.toString());
            JsonNode member = idle.path("members").get(0);
            assertEquals(self, member.path("node").asText());
            assertTrue(member.path("reachable").asBoolean() && member.path("self").asBoolean(), member.toString());
            assertTrue(member.path("roles").toString().contains("\"dc-default\""), member.toString());
            assertEquals(List.of(0L, 0L, 0L), counts(idle), idle.toString());

            assertEquals(202, api.postJson("/api/v1/jobs", job("busy", source1.uri(), target1.uri(), source2.uri(),
                    target2.uri())).statusCode());
            awaitJob(api, "busy", d -> d.path("status").asText().equals("running")
                    && d.path("disks").get(0).path("status").asText().equals("copying")
                    && d.path("disks").get(1).path("status").asText().equals("copying"));
            // the node runs one job at a time (max-running 1): the next one waits for its slot
            assertEquals(202, api.postJson("/api/v1/jobs", job("next", source1.uri(), target3.uri())).statusCode());
            awaitJob(api, "next", d -> d.path("status").asText().equals("queued"));

            JsonNode busy = await(api, c -> counts(c).equals(List.of(1L, 2L, 1L)), "one job with two disks running,"
                    + " one queued");
            assertEquals(self, busy.path("members").get(0).path("node").asText());
            assertEquals(self, ApiFixture.json(api.get("/api/v1/jobs/busy")).path("node").asText(),
                    "the job's document names the node that runs it");
            JsonNode listed = ApiFixture.json(api.get("/api/v1/jobs?status=running")).path("jobs");
            assertEquals(1, listed.size(), listed.toString());
            assertEquals(self, listed.get(0).path("node").asText(), listed.toString());

            assertEquals(202, api.cancel("next").statusCode());
            assertEquals(202, api.cancel("busy").statusCode());
            assertEquals("cancelled", api.awaitFinal("busy", Duration.ofMinutes(1)).path("status").asText());
            api.awaitFinal("next", Duration.ofMinutes(1));
            await(api, c -> counts(c).equals(List.of(0L, 0L, 0L)), "nothing running or queued after the cancels");
        }
    }

    /** running_jobs and running_disks of the only member, and waiting_jobs. */
    private static List<Long> counts(JsonNode cluster) {
        JsonNode m = cluster.path("members").get(0);
        return List.of(m.path("running_jobs").asLong(), m.path("running_disks").asLong(),
                cluster.path("waiting_jobs").asLong());
    }

    private static JsonNode await(ApiFixture api, Predicate<JsonNode> done, String what) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        JsonNode last = null;
        while (System.nanoTime() < deadline) {
            HttpResponse<String> r = api.get("/api/v1/cluster");
            assertEquals(200, r.statusCode(), r.body());
            last = ApiFixture.json(r);
            if (done.test(last)) {
                return last;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("GET /api/v1/cluster never showed " + what + ": " + last);
    }

    private static void awaitJob(ApiFixture api, String id, Predicate<JsonNode> done) throws Exception {
        long deadline = System.nanoTime() + Duration.ofMinutes(1).toNanos();
        JsonNode last = null;
        while (System.nanoTime() < deadline) {
            HttpResponse<String> r = api.get("/api/v1/jobs/" + id);
            if (r.statusCode() == 200) {
                last = ApiFixture.json(r);
                if (done.test(last)) {
                    return;
                }
            }
            Thread.sleep(100);
        }
        throw new AssertionError("job " + id + " did not get there within a minute: " + last);
    }
}
