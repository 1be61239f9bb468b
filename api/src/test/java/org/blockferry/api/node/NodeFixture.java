package org.blockferry.api.node;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.blockferry.engine.job.JobDocument;
import org.blockferry.engine.job.JobSettings;
import org.blockferry.engine.job.JobState;
import org.blockferry.persistence.PersistenceSettings;

/**
 * Test nodes: small chunks and frequent checkpoints so that small disks behave like big ones.
 * They run as {@code blockferry serve} does ({@link Node.Access#SERVE}: the storage policy holds),
 * with the test's scratch directory as the allowed root and their data directory inside it
 * ({@code DIR/node}), unless {@code overrides} say otherwise.
 */
public final class NodeFixture {
    /**
     * Chunks in flight for test nodes, in this JVM or as processes: two, not the default six. The
     * tests' slow servers (delay filters, rate limits) are sized so that a cancel or a kill lands
     * mid-copy at that depth.
     */
    public static final String CHUNKS_IN_FLIGHT = "2";

    private NodeFixture() {
    }

    public static Config config(Path dir, Map<String, Object> overrides) {
        Map<String, Object> m = new java.util.HashMap<>(Map.of(
                "blockferry.data-dir", dir.resolve("node").toString(),
                "blockferry.copy.chunk-size", "4MiB",
                "blockferry.copy.request-size", "1MiB",
                "blockferry.copy.memory-budget", "64MiB",
                "blockferry.copy.checkpoint-interval", "16MiB",
                "blockferry.copy.progress-interval", "200ms",
                "blockferry.copy.request-timeout", "20s",
                "blockferry.jobs.retry.min-backoff", "200ms",
                "blockferry.jobs.retry.max-backoff", "1s",
                "pekko.loglevel", "WARNING"));
        m.put("blockferry.copy.chunks-in-flight", CHUNKS_IN_FLIGHT);
        m.put("blockferry.storage.allowed-roots", java.util.List.of(dir.toString()));
        m.putAll(overrides);
        return ConfigFactory.parseMap(m).withFallback(ConfigFactory.load()).resolve();
    }

    public static Node start(Path dir, PersistenceSettings db, Map<String, Object> overrides) throws Exception {
        return start(dir, db, overrides, Node.Access.SERVE);
    }

    /** A test node running as {@code access} does ({@link Node.Access#OPERATOR}: as {@code replicate}'s). */
    public static Node start(Path dir, PersistenceSettings db, Map<String, Object> overrides, Node.Access access)
            throws Exception {
        Config config = config(dir, overrides);
        Node node = Node.start(config, db, JobSettings.fromConfig(config), access);
        node.onClose(() -> ReadSideAudit.check(node)); // the read side equals the journal, folded
        return node;
    }

    /** Waits until the job's live state is final. */
    public static JobState awaitFinal(Node node, String jobId, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        JobState s = null;
        while (System.nanoTime() < deadline) {
            s = node.jobs().get(jobId).toCompletableFuture().get(30, TimeUnit.SECONDS);
            if (s.status().isFinal()) {
                return s;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("job " + jobId + " did not finish within " + timeout + ": " + s);
    }

    /** Waits until the read side shows the job final (the projection follows the journal). */
    public static JobDocument awaitReadSide(Node node, String jobId, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        JobDocument row = null;
        while (System.nanoTime() < deadline) {
            row = node.queries().get(jobId).orElse(null);
            if (row != null && row.ended()) {
                return row;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("read side did not show job " + jobId + " final within " + timeout + ": " + row);
    }
}
