package org.blockferry.api.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.blockferry.nbd.testing.NbdkitServer;
import org.blockferry.nbd.testing.TestPeers;
import org.blockferry.persistence.PersistenceSettings;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code GET /api/v1/cluster} on three {@code blockferry serve} processes on one PostgreSQL
 * database: every member up, then a member killed with SIGKILL is shown unreachable (or gone,
 * once downed) while the two others stay up.
 */
@Timeout(value = 6, unit = java.util.concurrent.TimeUnit.MINUTES)
@Tag("cluster")
class ClusterViewProcessTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    private final String token = "cluster-view-test-token-0123456789";

    @Test
    void everyMemberIsUpAndAKilledMemberBecomesUnreachableWhileTheOthersStayUp() throws Exception {
        Path dir = TestPeers.scratchDirectory("cluster-view-");
        PersistenceSettings db = TestDatabases.create(TestDatabases.Kind.POSTGRES, dir);
        Path tokenFile = Files.writeString(dir.resolve("api-token"), token + "\n");
        List<Integer> ports = List.of(NbdkitServer.freePort(), NbdkitServer.freePort(), NbdkitServer.freePort());
        List<String> nodes = ports.stream().map(p -> "127.0.0.1:" + p).toList();
        List<String> all = nodes.stream().sorted().toList();
        List<NodeProcess> processes = new ArrayList<>();
        try {
            for (int i = 0; i < 3; i++) {
                processes.add(NodeProcess.start(dir, "node" + (i + 1), db, Map.of(
                        "blockferry.cluster.port", Integer.toString(ports.get(i)),
                        "blockferry.cluster.seed-nodes.0", "pekko://blockferry@" + nodes.get(0),
                        "blockferry.http.token-file", tokenFile.toString()), null));
            }
            String node3 = processes.get(2).awaitUrl(Duration.ofMinutes(3));

            JsonNode formed = await(node3, c -> members(c, "up", true).equals(all), "three members up",
                    Duration.ofMinutes(3));
            assertEquals(nodes.get(2), formed.path("self").asText());
            assertTrue(nodes.contains(formed.path("leader").asText()), formed.toString());
            for (JsonNode m : formed.path("members")) {
                assertEquals(m.path("node").asText().equals(nodes.get(2)), m.path("self").asBoolean(), m.toString());
            }

            processes.get(1).kill();
            JsonNode after = await(node3, c -> {
                JsonNode killed = member(c, nodes.get(1));
                return killed == null || !killed.path("reachable").asBoolean();
            }, "node 2 unreachable or gone", Duration.ofMinutes(1));
            assertEquals(all.stream().filter(n -> !n.equals(nodes.get(1))).toList(), members(after, "up", true),
                    "the two others stay up and reachable: " + after);
        } finally {
            for (NodeProcess p : processes) {
                p.close();
            }
        }
    }

    /** The nodes of the members with {@code status} and {@code reachable}, sorted. */
    private static List<String> members(JsonNode cluster, String status, boolean reachable) {
        List<String> out = new ArrayList<>();
        for (JsonNode m : cluster.path("members")) {
            if (m.path("status").asText().equals(status) && m.path("reachable").asBoolean() == reachable) {
                out.add(m.path("node").asText());
            }
        }
        return out.stream().sorted().toList();
    }

    private static JsonNode member(JsonNode cluster, String node) {
        for (JsonNode m : cluster.path("members")) {
            if (m.path("node").asText().equals(node)) {
                return m;
            }
        }
        return null;
    }

    private JsonNode await(String node, Predicate<JsonNode> done, String what, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        JsonNode last = null;
        while (System.nanoTime() < deadline) {
            HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(node + "/api/v1/cluster"))
                    .header("Authorization", "Bearer " + token).timeout(Duration.ofSeconds(20)).GET().build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode(), r.body());
            last = JSON.readTree(r.body());
            if (done.test(last)) {
                return last;
            }
            Thread.sleep(250);
        }
        throw new AssertionError("GET /api/v1/cluster on " + node + " never showed " + what + " within " + timeout
                + ": " + last);
    }
}
