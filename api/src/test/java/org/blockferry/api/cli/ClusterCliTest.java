package org.blockferry.api.cli;

import static org.blockferry.api.cli.CliTest.cli;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.blockferry.api.cli.CliRunner.Run;
import org.blockferry.api.http.ApiFixture;
import org.blockferry.api.node.TestDatabases;
import org.blockferry.nbd.testing.NbdkitServer;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code blockferry cluster} against a real node's API (table and JSON), the node in
 * {@code blockferry jobs} and {@code blockferry job ID}, and every way of not reaching a node as
 * one line on stderr.
 */
@Timeout(value = 5, unit = java.util.concurrent.TimeUnit.MINUTES)
class ClusterCliTest {
    private final Path dir = TestPeers.scratchDirectory("cluster-cli-");

    @AfterEach
    void restore() {
        System.clearProperty("blockferry.persistence.h2.file");
        System.clearProperty("blockferry.data-dir");
        ConfigFactory.invalidateCaches();
    }

    @Test
    void clusterShowsTheNodeWithItsRunningJobAndJobsShowWhereTheyRun() throws Exception {
        try (NbdkitServer source = NbdkitServer.start(dir, "--filter=rate", "sparse-random", "size=128M",
                "percent=100", "seed=7", "rate=4M");
             NbdkitServer target = NbdkitServer.start(dir, "memory", "size=128M");
             ApiFixture api = ApiFixture.start(dir, TestDatabases.Kind.H2, null, Map.of())) {
            Path tokenFile = Files.writeString(dir.resolve("token"), api.token + "\n");
            String url = api.url("");
            String spec = "{\"job_id\": \"cli-busy\", \"vm\": \"cli-vm\", \"disks\": [{\"id\": \"root\", \"source\": \""
                    + source.uri() + "\", \"target\": \"" + target.uri() + "\"}]}";
            assertEquals(202, api.postJson("/api/v1/jobs", spec).statusCode());
            JsonNode cluster = awaitRunning(api);
            String self = cluster.path("self").asText();

            Run table = cli("cluster", "--url", url, "--token-file", tokenFile.toString());
            assertEquals(0, table.code(), table.err());
            List<String> lines = table.out().lines().toList();
            assertTrue(lines.get(0).matches("NODE\\s+STATUS\\s+REACHABLE\\s+JOBS\\s+DISKS"), table.out());
            assertTrue(lines.get(1).matches(Pattern.quote(self) + "\\s+up\\s+yes\\s+1\\s+1\\s+self, leader"),
                    table.out());
            assertEquals("queued jobs (cluster-wide): 0", lines.get(2), table.out());
            assertEquals(3, lines.size(), table.out());

            Run json = cli("cluster", "--url", url + "/", "--token-file", tokenFile.toString(), "--json");
            assertEquals(0, json.code(), json.err());
            assertEquals(1, json.out().lines().count(), json.out());
            JsonNode doc = new ObjectMapper().readTree(json.out());
            assertEquals(self, doc.path("self").asText());
            assertEquals(cluster.path("members"), doc.path("members"), "the API's document as it is");

            System.setProperty("blockferry.persistence.h2.file", dir.resolve("blockferry-db").toString());
            ConfigFactory.invalidateCaches();
            Run jobs = cli("jobs");
            assertEquals(0, jobs.code(), jobs.err());
            assertTrue(jobs.out().lines().findFirst().orElse("").matches("JOB\\s+VM\\s+STATUS\\s+PERCENT\\s+DONE"
                    + "\\s+TOTAL\\s+NODE"), jobs.out());
            assertTrue(jobs.out().lines().anyMatch(l -> l.matches("cli-busy\\s+cli-vm\\s+running\\s.*\\s"
                    + Pattern.quote(self))), jobs.out());
            Run job = cli("job", "cli-busy");
            assertEquals(0, job.code(), job.err());
            assertTrue(job.out().lines().findFirst().orElse("").matches("job cli-busy  vm cli-vm  running  .*%  on node "
                    + Pattern.quote(self)), job.out());

            assertEquals(202, api.cancel("cli-busy").statusCode());
            api.awaitFinal("cli-busy", Duration.ofMinutes(1));
        }
    }

    @Test
    void aNodeThatCannotBeAskedIsOneLineOnStderr() throws Exception {
        int closedPort;
        try (ServerSocket s = new ServerSocket(0)) {
            closedPort = s.getLocalPort();
        }
        Path wrongToken = Files.writeString(dir.resolve("wrong-token"), "not-the-token-0123456789\n");
        System.setProperty("blockferry.data-dir", dir.resolve("empty-data-dir").toString()); // holds no token
        ConfigFactory.invalidateCaches();
        try (ApiFixture api = ApiFixture.start(dir, TestDatabases.Kind.H2, null, Map.of())) {
            record Bad(String[] args, int code, String says) {
            }
            for (Bad bad : new Bad[] {
                new Bad(new String[] {"cluster", "--url", "http://127.0.0.1:" + closedPort}, 1, "blockferry cluster:"
                        + " cannot reach the node at http://127.0.0.1:" + closedPort + ": connection refused; is"
                        + " 'blockferry serve' running there? (--url URL)"),
                new Bad(new String[] {"cluster", "--url", "ftp://example.org"}, 2, "blockferry cluster: --url:"
                        + " 'ftp://example.org' is not an http:// or https:// URL"),
                new Bad(new String[] {"cluster", "--url", "http://"}, 2, "blockferry cluster: --url: 'http://'"),
                new Bad(new String[] {"cluster", "--url", api.url(""), "--token-file", wrongToken.toString()}, 1,
                        "the node at " + api.url("") + " refused the API token (401); give its token:"
                        + " BLOCKFERRY_API_TOKEN, --token-file FILE, or the node's DATA_DIR/api-token"),
                new Bad(new String[] {"cluster", "--url", api.url("")}, 1, "the node at " + api.url("")
                        + " refused a request without an API token (401)"),
                new Bad(new String[] {"cluster", "--url", api.url(""), "--token-file", dir.resolve("none").toString()},
                        2, "--token-file: cannot read " + dir.resolve("none") + ": it does not exist"),
            }) {
                Run run = cli(bad.args());
                String what = String.join(" ", bad.args());
                assertEquals(bad.code(), run.code(), what + " -> " + run.err());
                assertEquals(1, run.err().strip().lines().count(), what + ": " + run.err());
                assertTrue(run.err().contains(bad.says()), what + " -> " + run.err());
                assertFalse(run.err().contains("Exception") || run.err().contains("\tat "), run.err());
                assertEquals("", run.out(), what);
            }
        }
    }

    @Test
    void nodeApiPostsJsonReadsTextAndSaysWhyTheNodeRefused() throws Exception {
        try (ApiFixture api = ApiFixture.start(dir, TestDatabases.Kind.H2, null, Map.of())) {
            URI base = URI.create(api.url(""));
            NodeApi node = NodeApi.at(base, api.token);
            JsonNode noDisks = new ObjectMapper().readTree("{\"job_id\": \"cli-bad\", \"vm\": \"v\", \"disks\": []}");
            var refused = assertThrows(IOException.class,
                    () -> node.post("/api/v1/jobs", noDisks, 202));
            assertTrue(refused.getMessage().startsWith("the node at " + base + " answered 400: disks"),
                    refused.getMessage());
            var unknown = assertThrows(IOException.class,
                    () -> node.text("/api/v1/jobs/no-such-job/events"));
            assertTrue(unknown.getMessage().startsWith("the node at " + base + " answered 404: "), unknown.getMessage());
            var anonymous = assertThrows(IOException.class,
                    () -> NodeApi.at(base, null).text("/api/v1/jobs/no-such-job/events"));
            assertTrue(anonymous.getMessage().contains("refused a request without an API token (401)"),
                    anonymous.getMessage());
            assertTrue(node.text("/metrics").contains("blockferry_jobs"), "the metrics as text");
            assertEquals(404, api.get("/api/v1/jobs/cli-bad").statusCode(), "a refused job is not kept");
        }
    }

    private static JsonNode awaitRunning(ApiFixture api) throws Exception {
        long deadline = System.nanoTime() + Duration.ofMinutes(1).toNanos();
        JsonNode last = null;
        while (System.nanoTime() < deadline) {
            last = ApiFixture.json(api.get("/api/v1/cluster"));
            JsonNode m = last.path("members").get(0);
            if (m.path("status").asText().equals("up") && m.path("running_disks").asLong() == 1) {
                return last;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("the node never showed its running job: " + last);
    }
}
