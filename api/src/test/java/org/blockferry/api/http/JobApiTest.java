package org.blockferry.api.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.blockferry.api.node.TestDatabases;
import org.blockferry.nbd.testing.DiskChecksum;
import org.blockferry.nbd.testing.NbdkitServer;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** A job's whole life over HTTP, against real NBD servers, on H2 and on PostgreSQL. */
class JobApiTest {

    private static String spec(String jobId, String source, String target) {
        return "{\"job_id\": \"" + jobId + "\", \"vm\": \"web01\", \"disks\": [{\"id\": \"root\", \"source\": \""
                + source + "\", \"target\": \"" + target + "\"}]}";
    }

    @ParameterizedTest
    @EnumSource(TestDatabases.Kind.class)
    void submitWatchResumeTheStreamAndReadAJob(TestDatabases.Kind db) throws Exception {
        Path dir = TestPeers.scratchDirectory("api-job-");
        try (NbdkitServer source = NbdkitServer.start(dir, "sparse-random", "size=256M", "percent=50", "seed=31");
             // slow enough that the first subscriber, connected right after the submission, sees the
             // copy move (at 8 ms a write the copy ended in 0.3 s, before a loaded CI machine's stream)
             NbdkitServer target = NbdkitServer.start(dir, "--filter=delay", "memory", "size=256M", "wdelay=30ms");
             ApiFixture api = ApiFixture.start(dir, db, null, Map.of())) {
            String job = "api-" + db;
            HttpResponse<String> submitted = api.postJson("/api/v1/jobs", spec(job, source.uri(), target.uri()));
            assertEquals(202, submitted.statusCode(), submitted.body());
            assertEquals("/api/v1/jobs/" + job, submitted.headers().firstValue("Location").orElseThrow());
            assertEquals(job, ApiFixture.json(submitted).path("job_id").asText());

            // A subscriber that goes away mid-copy, then comes back with Last-Event-ID.
            SseClient.Seen first = SseClient.read(api.client, api.request("/api/v1/jobs/" + job + "/events").build(),
                    e -> "progress".equals(e.event()) && e.data().path("bytes_transferred").asLong() > 0
                            && e.data().path("progress_percent").asDouble() < 100, Duration.ofMinutes(2));
            assertEquals(200, first.status());
            assertFalse(first.ended(), "left mid-copy: " + first.events());
            assertEquals("state", first.events().get(0).event(), "the current state comes first");
            long lastId = first.events().stream().filter(e -> e.id() != null).mapToLong(SseClient.Event::id).max()
                    .orElseThrow();
            SseClient.Seen rest = SseClient.read(api.client, api.request("/api/v1/jobs/" + job + "/events")
                    .header("Last-Event-ID", Long.toString(lastId)).build(), e -> false, Duration.ofMinutes(3));
            assertTrue(rest.ended(), "the stream ends after the final state");
            assertTrue(rest.events().stream().filter(e -> e.id() != null).allMatch(e -> e.id() >= lastId),
                    "nothing from before Last-Event-ID " + lastId + " is sent again: " + rest.events());
            List<String> states = rest.states();
            assertEquals("completed", states.get(states.size() - 1), "final state last: " + states);
            JsonNode lastProgress = rest.named("progress").get(rest.named("progress").size() - 1).data();
            assertEquals(100.0, lastProgress.path("progress_percent").asDouble());
            assertEquals(lastProgress.path("total_bytes").asLong(), lastProgress.path("bytes_transferred").asLong());
            long previous = -1;
            for (SseClient.Event e : rest.named("progress")) {
                long done = e.data().path("bytes_transferred").asLong();
                assertTrue(done >= previous, "bytes_transferred only grows");
                previous = done;
            }

            JsonNode doc = api.awaitFinal(job, Duration.ofMinutes(1));
            assertEquals("completed", doc.path("status").asText());
            assertEquals(100.0, doc.path("progress_percent").asDouble());
            long total = doc.path("total_bytes").asLong();
            assertTrue(total > 0 && total < 256L << 20, "total is the planned data, not the capacity: " + total);
            assertEquals(total, doc.path("disks").get(0).path("total_bytes").asLong(), "job = sum of its disks");
            assertEquals(DiskChecksum.ofUri(source.uri()), DiskChecksum.ofUri(target.uri()));

            JsonNode progress = ApiFixture.json(api.get("/api/v1/progress/" + job));
            assertEquals("completed", progress.path("stage").asText());
            assertEquals(100.0, progress.path("percent").asDouble());
            assertEquals(total, progress.path("bytes_transferred").asLong());
            assertEquals("root", progress.path("disks").get(0).path("id").asText());

            JsonNode page = ApiFixture.json(api.get("/api/v1/jobs?status=completed&limit=10"));
            assertEquals(job, page.path("jobs").get(0).path("job_id").asText());
            assertEquals(0, ApiFixture.json(api.get("/api/v1/jobs?status=failed")).path("count").asInt());

            // idempotency: the same spec is the same job; another spec under the same id is a conflict
            HttpResponse<String> again = api.postJson("/api/v1/replication/start", spec(job, source.uri(), target.uri()));
            assertEquals(202, again.statusCode(), again.body());
            assertEquals("completed", ApiFixture.json(again).path("status").asText());
            HttpResponse<String> conflict = api.postJson("/api/v1/jobs", spec(job, source.uri(),
                    dir.resolve("other.img").toString()));
            assertEquals(409, conflict.statusCode(), conflict.body());
            assertEquals("job_id", ApiFixture.json(conflict).path("error").path("field").asText());
            HttpResponse<String> cancelDone = api.cancel(job);
            assertEquals(409, cancelDone.statusCode(), cancelDone.body());

            // a finished job's stream: its final figures and state, then the end
            SseClient.Seen late = SseClient.read(api.client, api.request("/api/v1/jobs/" + job + "/events").build(),
                    e -> false, Duration.ofSeconds(30));
            assertTrue(late.ended());
            assertEquals(List.of("completed"), late.states());

            String metrics = api.get("/metrics").body();
            assertEquals((double) total, metric(metrics, "blockferry_disk_bytes{disk=\"root\",job=\"" + job
                    + "\",kind=\"transferred\"}"), "metrics carry the disk's bytes");
            assertEquals(1.0, metric(metrics, "blockferry_jobs{status=\"completed\"}"));
            assertTrue(metrics.contains("blockferry_nbd_request_seconds_count{operation=\"pwrite\"}"),
                    grep(metrics, "nbd_request"));
            assertTrue(metrics.contains("jvm_memory_used_bytes"), "JVM metrics");
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabases.Kind.class)
    void cancelOverHttpEndsTheStreamCancelled(TestDatabases.Kind db) throws Exception {
        Path dir = TestPeers.scratchDirectory("api-cancel-");
        try (NbdkitServer source = NbdkitServer.start(dir, "sparse-random", "size=256M", "percent=100", "seed=32");
             NbdkitServer target = NbdkitServer.start(dir, "--filter=delay", "memory", "size=256M", "wdelay=300ms");
             ApiFixture api = ApiFixture.start(dir, db, null, Map.of("blockferry.http.sse.heartbeat", "400ms",
                     "blockferry.copy.progress-interval", "5s", "blockferry.jobs.max-running", "1"))) {
            String job = "cancel-" + db;
            assertEquals(202, api.postJson("/api/v1/jobs", spec(job, source.uri(), target.uri())).statusCode());
            SseClient.read(api.client, api.request("/api/v1/jobs/" + job + "/events").build(),
                    e -> "progress".equals(e.event()) && e.data().path("bytes_transferred").asLong() > 0,
                    Duration.ofMinutes(1));

            // a queued job has nothing to say: its stream carries heartbeat comments, then it is cancelled
            String queued = "queued-" + db;
            assertEquals(202, api.postJson("/api/v1/jobs", spec(queued, source.uri(), target.uri())).statusCode());
            java.util.concurrent.atomic.AtomicInteger beats = new java.util.concurrent.atomic.AtomicInteger();
            SseClient.Seen waiting = SseClient.read(api.client, api.request("/api/v1/jobs/" + queued + "/events")
                    .build(), e -> "heartbeat".equals(e.comment()) && beats.incrementAndGet() == 3, Duration.ofSeconds(30));
            assertEquals(List.of("queued"), waiting.states());
            assertEquals(3, waiting.events().stream().filter(e -> "heartbeat".equals(e.comment())).count(),
                    waiting.events().toString());
            assertEquals(202, api.cancel(queued).statusCode());

            var subscriber = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                try {
                    return SseClient.read(api.client, api.request("/api/v1/jobs/" + job + "/events").build(),
                            e -> false, Duration.ofMinutes(2));
                } catch (Exception e) {
                    throw new java.util.concurrent.CompletionException(e);
                }
            });
            Thread.sleep(4_000);
            HttpResponse<String> cancelled = api.cancel(job);
            assertEquals(202, cancelled.statusCode(), cancelled.body());
            SseClient.Seen seen = subscriber.get(3, java.util.concurrent.TimeUnit.MINUTES);
            assertTrue(seen.ended());
            List<String> states = seen.states();
            assertEquals("running", states.get(0), states.toString());
            assertEquals("cancelled", states.get(states.size() - 1), states.toString());
            // progress at least every 2 s while running (the copy reports every 5 s here)
            List<SseClient.Event> running = seen.events().stream().filter(e -> "progress".equals(e.event())
                    && e.data().path("status").asText().equals("running")).toList();
            assertTrue(running.size() >= 3, "progress events while running: " + running.size());
            for (int i = 1; i < running.size(); i++) {
                long gapMillis = (running.get(i).atNanos() - running.get(i - 1).atNanos()) / 1_000_000;
                assertTrue(gapMillis <= 2_000, "progress " + gapMillis + " ms after the previous one");
            }
            JsonNode doc = api.awaitFinal(job, Duration.ofSeconds(30));
            assertEquals("cancelled", doc.path("status").asText());
            assertTrue(doc.path("progress_percent").asDouble() < 100);
            assertEquals("cancelled", doc.path("disks").get(0).path("status").asText());
        }
    }

    private static double metric(String exposition, String series) {
        return exposition.lines().filter(l -> l.startsWith(series + " ")).findFirst()
                .map(l -> Double.parseDouble(l.substring(series.length() + 1).trim()))
                .orElseThrow(() -> new AssertionError(series + " not in: " + grep(exposition, "blockferry_")));
    }

    private static String grep(String text, String needle) {
        return text.lines().filter(l -> l.contains(needle)).limit(20).reduce("", (a, b) -> a + "\n" + b);
    }
}
