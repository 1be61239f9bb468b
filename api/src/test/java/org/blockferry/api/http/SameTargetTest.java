package org.blockferry.api.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import org.blockferry.api.node.TestDatabases;
import org.blockferry.nbd.testing.DiskChecksum;
import org.blockferry.nbd.testing.NbdkitServer;
import org.blockferry.nbd.testing.TestPeers;
import org.blockferry.api.node.ClusterDisks;
import org.junit.jupiter.api.Test;

/**
 * One target, whatever its spelling: a later job that writes it waits for the earlier one; a
 * job that contradicts itself, or writes what another running job reads, is refused naming the
 * field.
 */
class SameTargetTest {

    private static String job(String id, String... sourceTargetPairs) {
        return ClusterDisks.job(id, sourceTargetPairs);
    }

    /** About ten seconds to read (64 MiB at 300 ms a request): the second job comes well before its end. */
    private static NbdkitServer slowSource(Path dir, int seed) {
        return NbdkitServer.start(dir, "--filter=delay", "sparse-random", "size=64M", "percent=100",
                "seed=" + seed, "rdelay=300ms");
    }

    /** Submits {@code first} then {@code second}, which must wait for it, then run and leave its own bytes. */
    private static void secondWaitsForTheFirst(ApiFixture api, String first, String second, String targetIdentity,
                                               String secondSource, String target) throws Exception {
        assertEquals(202, api.postJson("/api/v1/jobs", first).statusCode());
        String firstId = ApiFixture.JSON.readTree(first).path("job_id").asText();
        String secondId = ApiFixture.JSON.readTree(second).path("job_id").asText();
        SseClient.read(api.client, api.request("/api/v1/jobs/" + firstId + "/events").build(),
                e -> e.isState("running"), Duration.ofMinutes(1));
        HttpResponse<String> accepted = api.postJson("/api/v1/jobs", second);
        assertEquals(202, accepted.statusCode(), accepted.body());
        JsonNode waiting = awaitWaiting(api, secondId);
        assertEquals("queued", waiting.path("status").asText());
        assertTrue(waiting.path("waiting_for").asText().contains(targetIdentity)
                && waiting.path("waiting_for").asText().contains(firstId), waiting.toString());

        JsonNode a = api.awaitFinal(firstId, Duration.ofMinutes(2));
        JsonNode b = api.awaitFinal(secondId, Duration.ofMinutes(2));
        assertEquals("completed", a.path("status").asText(), a.toString());
        assertEquals("completed", b.path("status").asText(), b.toString());
        assertTrue(!Instant.parse(b.path("started_at").asText()).isBefore(Instant.parse(a.path("finished_at")
                .asText())), "the second started after the first ended: " + a + " " + b);
        assertEquals(DiskChecksum.ofUri(secondSource), target.contains("://") ? DiskChecksum.ofUri(target)
                : DiskChecksum.ofFile(Path.of(target)), "the target holds the second job's source");
    }

    private static JsonNode awaitWaiting(ApiFixture api, String id) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        JsonNode doc = null;
        while (System.nanoTime() < deadline) {
            HttpResponse<String> r = api.get("/api/v1/jobs/" + id);
            if (r.statusCode() == 200) {
                doc = ApiFixture.json(r);
                if (!doc.path("waiting_for").isNull() && !doc.path("waiting_for").isMissingNode()) {
                    return doc;
                }
            }
            Thread.sleep(50);
        }
        throw new AssertionError("job " + id + " never said what it waits for: " + doc);
    }

    @Test
    void aFileReachedThroughASymlinkedDirectoryIsOneTarget() throws Exception {
        Path dir = TestPeers.scratchDirectory("same-file-");
        Path real = Files.createDirectories(dir.resolve("real"));
        Path link = Files.createSymbolicLink(dir.resolve("link"), real);
        try (NbdkitServer first = slowSource(dir, 1);
             NbdkitServer second = NbdkitServer.start(dir, "sparse-random", "size=64M", "percent=40", "seed=2");
             ApiFixture api = ApiFixture.start(dir, TestDatabases.Kind.H2, null, Map.of())) {
            String target = real.resolve("t.img").toString();
            secondWaitsForTheFirst(api, job("file-a", first.uri(), target),
                    job("file-b", second.uri(), link.resolve("t.img").toString()),
                    "file:" + real.toRealPath().resolve("t.img"), second.uri(), target);
        }
    }

    @Test
    void aUnixSocketReachedThroughASymlinkedDirectoryIsOneTarget() throws Exception {
        Path dir = TestPeers.scratchDirectory("same-socket-");
        Path link = Files.createSymbolicLink(dir.resolve("link"), dir);
        try (NbdkitServer first = slowSource(dir, 3);
             NbdkitServer second = NbdkitServer.start(dir, "sparse-random", "size=64M", "percent=40", "seed=4");
             NbdkitServer target = NbdkitServer.start(dir, "memory", "size=64M");
             ApiFixture api = ApiFixture.start(dir, TestDatabases.Kind.H2, null, Map.of())) {
            String viaLink = "nbd+unix:///?socket=" + link.resolve(target.socket().getFileName());
            secondWaitsForTheFirst(api, job("sock-a", first.uri(), target.uri()), job("sock-b", second.uri(), viaLink),
                    "socket=" + target.socket().toRealPath(), second.uri(), target.uri());
        }
    }

    @Test
    void aJobThatContradictsItselfOrWritesWhatARunningJobReadsIsRefusedNamingTheField() throws Exception {
        Path dir = TestPeers.scratchDirectory("same-refused-");
        Path real = Files.createDirectories(dir.resolve("real"));
        Path link = Files.createSymbolicLink(dir.resolve("link"), real);
        Path image = real.resolve("disk.img");
        byte[] data = new byte[32 << 20];
        new java.util.Random(6).nextBytes(data);
        Files.write(image, data);
        try (NbdkitServer slow = slowSource(dir, 5);
             NbdkitServer slowTarget = NbdkitServer.start(dir, "--filter=delay", "memory", "size=32M", "wdelay=200ms");
             ApiFixture api = ApiFixture.start(dir, TestDatabases.Kind.H2, null, Map.of())) {
            record Bad(String spec, String field, String says) {
            }
            for (Bad bad : new Bad[] {
                new Bad(job("r1", slow.uri(), "nbd://127.0.0.1/x", slow.uri(), "nbd://127.0.0.1:10809/x"),
                        "disks[1].target", "is the same target as disks[0].target (nbd://127.0.0.1:10809/x)"),
                new Bad(job("r2", image.toString(), link.resolve("disk.img").toString()), "disks[0].target",
                        "is the disk's own source"),
                new Bad(job("r3", slow.uri(), image.toString(), image.toString(), real.resolve("copy.img").toString()),
                        "disks[0].target", "is the source of disks[1]"),
            }) {
                HttpResponse<String> r = api.postJson("/api/v1/jobs", bad.spec());
                assertEquals(400, r.statusCode(), r.body());
                JsonNode error = ApiFixture.json(r).path("error");
                assertEquals(bad.field(), error.path("field").asText(), r.body());
                assertTrue(error.path("message").asText().contains(bad.says()), r.body());
                assertEquals(404, api.get("/api/v1/jobs/" + ApiFixture.JSON.readTree(bad.spec()).path("job_id")
                        .asText()).statusCode(), "a refused job does not exist");
            }

            // a running job reads the image: no other job may write it, under any spelling
            assertEquals(202, api.postJson("/api/v1/jobs", job("reader", image.toString(), slowTarget.uri()))
                    .statusCode());
            SseClient.read(api.client, api.request("/api/v1/jobs/reader/events").build(),
                    e -> e.isState("running"), Duration.ofMinutes(1));
            HttpResponse<String> refused = api.postJson("/api/v1/jobs", job("writer", slow.uri(),
                    link.resolve("disk.img").toString()));
            assertEquals(409, refused.statusCode(), refused.body());
            JsonNode error = ApiFixture.json(refused).path("error");
            assertEquals("disks[0].target", error.path("field").asText());
            assertTrue(error.path("message").asText().contains("is the source of job reader"), refused.body());
            assertEquals(404, api.get("/api/v1/jobs/writer").statusCode(), "a refused job does not exist");
            assertEquals("completed", api.awaitFinal("reader", Duration.ofMinutes(1)).path("status").asText());
            assertEquals(DiskChecksum.ofFile(image), DiskChecksum.ofUri(slowTarget.uri()));
        }
    }
}
