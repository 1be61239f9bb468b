package org.blockferry.api.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.blockferry.nbd.testing.DiskChecksum;
import org.blockferry.nbd.testing.TestPeers;
import org.blockferry.persistence.PersistenceSettings;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A node on a two-CPU machine answers requests and runs jobs on its pools: it does not start a
 * thread per request or per job step. (The JDK's CompletableFuture starts a thread for every
 * asynchronous stage when its common pool has fewer than two threads, which it has on such a
 * machine; Pekko's Java API chains such stages after every ask and request body.)
 */
@Tag("cluster") // a node process: run with the other process tests
class AsyncStagesTest {
    private static final String TOKEN = "async-stages-token-0123456789abcdef";
    private static final Pattern STARTED = Pattern.compile("(?m)^jvm_threads_started_total ([0-9.eE+]+)$");
    private static final int REQUESTS = 40;
    private static final int JOBS = 8;
    private static final int SIZE = 1 << 20;

    @Test
    void aNodeOnTwoCpusStartsNoThreadPerRequestOrJob() throws Exception {
        Path dir = TestPeers.scratchDirectory("async-stages-");
        PersistenceSettings db = TestDatabases.create(TestDatabases.Kind.H2, dir);
        Path source = ClusterDisks.randomFile(dir.resolve("source.img"), SIZE, 11);
        String expected = DiskChecksum.ofFile(source);
        // Small pools, full after the warm-up jobs: a pool's first tasks each start a thread.
        Map<String, String> settings = Map.of("blockferry.http.token", TOKEN,
                "blockferry.storage.allowed-roots", dir.toString(),
                "blockferry.disk-setup-dispatcher.thread-pool-executor.fixed-pool-size", "4",
                "pekko.actor.default-blocking-io-dispatcher.thread-pool-executor.fixed-pool-size", "4",
                "pekko.projection.jdbc.blocking-jdbc-dispatcher.thread-pool-executor.fixed-pool-size", "4");
        try (NodeProcess node = NodeProcess.start(dir, "node", db, settings, null,
                List.of("-XX:ActiveProcessorCount=2"))) {
            NodeHttp api = new NodeHttp(node.awaitUrl(Duration.ofMinutes(2)), TOKEN);
            for (int i = 0; i < 3; i++) {
                copy(api, "warm-" + i, source, dir, expected, node); // the pools a job uses have their threads
            }
            long before = threadsStarted(api);

            for (int i = 0; i < REQUESTS; i++) {
                HttpResponse<String> bad = api.postJson("/api/v1/jobs", "{\"job_id\": \"x" + i + "\"}");
                assertEquals(400, bad.statusCode(), bad.body());
                HttpResponse<String> none = api.get("/api/v1/jobs/none-" + i + "/events");
                assertEquals(404, none.statusCode(), none.body());
            }
            long requests = threadsStarted(api) - before;
            for (int i = 0; i < JOBS; i++) {
                copy(api, "job-" + i, source, dir, expected, node);
            }
            long jobs = threadsStarted(api) - before - requests;
            // Measured on a node whose common pool has one thread (the JDK's choice on two CPUs,
            // kept when set explicitly): 82 threads for the requests, 60 for the jobs. Pooled: 0-2, 4.
            assertTrue(requests < REQUESTS / 4, requests + " threads started for " + 2 * REQUESTS + " requests");
            assertTrue(jobs < 2 * JOBS, jobs + " threads started for " + JOBS + " jobs");
        }
    }

    private static void copy(NodeHttp api, String id, Path source, Path dir, String expected, NodeProcess node)
            throws Exception {
        Path target = dir.resolve(id + ".img");
        try (var f = new java.io.RandomAccessFile(target.toFile(), "rw")) {
            f.setLength(SIZE);
        }
        HttpResponse<String> r = api.postJson("/api/v1/jobs", ClusterDisks.job(id, source.toString(), target.toString()));
        assertEquals(202, r.statusCode(), r.body());
        JsonNode job = api.awaitFinal(id, Duration.ofMinutes(1), node::log);
        assertEquals("completed", job.path("status").asText(), id + ": " + job + "\n" + node.log());
        assertEquals(expected, DiskChecksum.ofFile(target), id);
    }

    private static long threadsStarted(NodeHttp api) throws Exception {
        String metrics = api.get("/metrics").body();
        Matcher m = STARTED.matcher(metrics);
        assertTrue(m.find(), "jvm_threads_started_total in /metrics:\n" + metrics);
        return (long) Double.parseDouble(m.group(1));
    }
}
