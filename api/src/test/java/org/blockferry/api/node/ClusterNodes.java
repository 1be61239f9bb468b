package org.blockferry.api.node;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntFunction;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.blockferry.nbd.testing.NbdkitServer;
import org.blockferry.persistence.PersistenceSettings;

/**
 * A cluster of {@code blockferry serve} processes on one PostgreSQL schema, as operators run
 * them: every node a seed, its log in {@code dir/nodeN.log}, to be killed, paused, stopped and
 * started again by a test. Jobs are submitted and read over each node's HTTP API.
 */
final class ClusterNodes implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String TOKEN = "cluster-test-token-0123456789abcdef";

    private final Path dir;
    private final PersistenceSettings db;
    private final Map<String, String> extra;
    private final IntFunction<Map<String, String>> perNode;
    private final List<Integer> ports = new ArrayList<>();
    private final List<NodeProcess> nodes = new ArrayList<>();
    private final List<String> names = new ArrayList<>();
    private final java.util.Set<Integer> paused = new java.util.HashSet<>();
    private final Path logback;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private ClusterNodes(Path dir, PersistenceSettings db, Map<String, String> extra,
                         IntFunction<Map<String, String>> perNode) throws IOException {
        this.dir = dir;
        this.db = db;
        this.extra = extra;
        this.perNode = perNode;
        this.logback = infoLogback(dir);
    }

    /** A logback file: BlockFerry's and the cluster's INFO lines, everything else from WARN, on stderr. */
    static Path infoLogback(Path dir) throws IOException {
        Path logback = dir.resolve("logback-nodes.xml");
        return Files.writeString(logback, "<configuration><appender name=\"E\" class=\"ch.qos.logback.core.ConsoleAppender\">"
                + "<target>System.err</target><encoder><pattern>%d{HH:mm:ss.SSS} %-5level %logger{0} %msg%n</pattern>"
                + "</encoder></appender><logger name=\"org.blockferry\" level=\"INFO\"/>"
                + "<logger name=\"org.apache.pekko.cluster\" level=\"INFO\"/>"
                + "<root level=\"WARN\"><appender-ref ref=\"E\"/></root></configuration>");
    }

    /** Starts {@code count} nodes (all of them seeds) with {@code extra} settings; waits until all are up. */
    static ClusterNodes start(Path dir, int count, Map<String, String> extra) throws Exception {
        return start(dir, count, extra, i -> Map.of());
    }

    /**
     * Starts {@code count} nodes with {@code extra} settings, and node {@code i} also with
     * {@code perNode.apply(i)} (e.g. its own appliance VM); waits until all are up.
     */
    static ClusterNodes start(Path dir, int count, Map<String, String> extra,
                              IntFunction<Map<String, String>> perNode) throws Exception {
        ClusterNodes c = new ClusterNodes(dir, TestDatabases.create(TestDatabases.Kind.POSTGRES, dir), extra,
                perNode);
        try {
            for (int i = 0; i < count; i++) {
                c.ports.add(NbdkitServer.freePort());
            }
            for (int i = 0; i < count; i++) {
                c.names.add("node" + (i + 1));
                c.nodes.add(c.launch(i, c.names.get(i)));
            }
            for (int i = 0; i < count; i++) {
                c.awaitUp(i, count, Duration.ofMinutes(2));
            }
            return c;
        } catch (Exception | AssertionError e) {
            c.close();
            throw e;
        }
    }

    private NodeProcess launch(int i, String name) throws IOException {
        String seeds = ports.stream().map(p -> "pekko://blockferry@127.0.0.1:" + p).collect(Collectors.joining(","));
        Map<String, String> s = new HashMap<>(Map.of(
                "blockferry.cluster.port", Integer.toString(ports.get(i)),
                "blockferry.cluster.seed-nodes", seeds,
                "blockferry.http.token", TOKEN,
                "blockferry.storage.allowed-roots", dir.toString(),
                "blockferry.copy.checkpoint-interval", "8MiB",
                // small chunks: progress and checkpoints move steadily at a test's slow rates
                "blockferry.copy.chunk-size", "2MiB",
                "blockferry.copy.chunks-in-flight", NodeFixture.CHUNKS_IN_FLIGHT,
                "blockferry.copy.progress-interval", "1s"));
        s.putAll(extra);
        s.putAll(perNode.apply(i));
        return NodeProcess.start(dir, name, db, s, logback);
    }

    /** The database every node uses. */
    PersistenceSettings db() {
        return db;
    }

    int size() {
        return nodes.size();
    }

    NodeProcess node(int i) {
        return nodes.get(i);
    }

    /** "127.0.0.1:PORT": the node's name in job documents. */
    String name(int i) {
        return "127.0.0.1:" + ports.get(i);
    }

    /** The index of the node called {@code name}. */
    int indexOf(String name) {
        for (int i = 0; i < ports.size(); i++) {
            if (name(i).equals(name)) {
                return i;
            }
        }
        throw new AssertionError("no node " + name + " in " + ports);
    }

    /** Waits until node {@code i} sees {@code up} nodes up. */
    void awaitUp(int i, int up, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (upCount(i) >= up && url(i) != null) {
                return;
            }
            if (!nodes.get(i).process().isAlive()) {
                break;
            }
            Thread.sleep(200);
        }
        throw new AssertionError(names.get(i) + " did not see " + up + " nodes up: " + nodes.get(i).log());
    }

    private int upCount(int i) {
        Matcher m = Pattern.compile("event=member-up .* up=(\\d+)").matcher(nodes.get(i).log());
        int up = 0;
        while (m.find()) {
            up = Integer.parseInt(m.group(1));
        }
        return up;
    }

    /** The node's HTTP base URL, once it serves. */
    String url(int i) {
        return nodes.get(i).url();
    }

    /** Node {@code i} stopped with SIGTERM (exit code 143 expected) and started again on the same port. */
    void restart(int i, Duration timeout) throws Exception {
        NodeProcess p = nodes.get(i);
        if (!p.stop(timeout)) {
            throw new AssertionError(names.get(i) + " did not stop within " + timeout + ": " + p.log());
        }
        if (p.process().exitValue() != 143) {
            throw new AssertionError(names.get(i) + " ended with " + p.process().exitValue() + ": " + p.log());
        }
        String name = names.get(i) + "b";
        names.set(i, name);
        nodes.set(i, launch(i, name));
    }

    HttpResponse<String> post(int i, String path, String json) throws IOException, InterruptedException {
        return http.send(request(i, path).POST(HttpRequest.BodyPublishers.ofString(json))
                .header("Content-Type", "application/json").build(), HttpResponse.BodyHandlers.ofString());
    }

    JsonNode get(int i, String path) throws IOException, InterruptedException {
        HttpResponse<String> r = http.send(request(i, path).GET().build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            throw new IOException("GET " + path + " on " + names.get(i) + ": " + r.statusCode() + " " + r.body());
        }
        return JSON.readTree(r.body());
    }

    HttpRequest.Builder request(int i, String path) {
        return HttpRequest.newBuilder(URI.create(url(i) + path)).timeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + TOKEN);
    }

    HttpClient http() {
        return http;
    }

    /** SIGSTOP to node {@code i}; it is not asked anything until {@link #resume}. */
    void pause(int i) throws IOException, InterruptedException {
        paused.add(i);
        nodes.get(i).pause();
    }

    void resume(int i) throws IOException, InterruptedException {
        nodes.get(i).resume();
        paused.remove(i);
    }

    /** Node indexes whose process is alive and not paused. */
    List<Integer> alive() {
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < nodes.size(); i++) {
            if (nodes.get(i).process().isAlive() && !paused.contains(i)) {
                out.add(i);
            }
        }
        return out;
    }

    /** Polls the job on any live node until {@code until} holds; the last document. */
    JsonNode await(String jobId, Predicate<JsonNode> until, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        JsonNode last = null;
        while (System.nanoTime() < deadline) {
            for (int i : alive()) {
                try {
                    last = get(i, "/api/v1/jobs/" + jobId);
                    if (until.test(last)) {
                        return last;
                    }
                    break;
                } catch (IOException e) {
                    // that node is going down: ask another
                }
            }
            Thread.sleep(250);
        }
        throw new AssertionError("job " + jobId + " did not get there within " + timeout + "; last: " + last
                + "\n" + logs());
    }

    private static final Pattern COPY_STARTED = Pattern.compile(
            "(\\d\\d:\\d\\d:\\d\\d\\.\\d\\d\\d) INFO  DiskCopy event=copy-planned");

    /**
     * The first time after {@code after} (this machine's local time of day) at which a node other
     * than {@code except} started copying a disk, by the nodes' logs; null if none did yet.
     */
    java.time.LocalTime copyingSince(java.time.LocalTime after, int except) {
        java.time.LocalTime first = null;
        for (int i = 0; i < nodes.size(); i++) {
            if (i == except) {
                continue;
            }
            Matcher m = COPY_STARTED.matcher(nodes.get(i).log());
            while (m.find()) {
                java.time.LocalTime t = java.time.LocalTime.parse(m.group(1));
                if (t.isAfter(after) && (first == null || t.isBefore(first))) {
                    first = t;
                }
            }
        }
        return first;
    }

    /** Every node's log, for a failure message. */
    String logs() {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < nodes.size(); i++) {
            String log = nodes.get(i).log();
            b.append("\n--- ").append(names.get(i)).append(" (").append(name(i)).append(")\n")
                    .append(log.length() > 6000 ? log.substring(log.length() - 6000) : log);
        }
        return b.toString();
    }

    @Override
    public void close() throws InterruptedException {
        for (NodeProcess n : nodes) {
            n.close();
        }
    }
}
