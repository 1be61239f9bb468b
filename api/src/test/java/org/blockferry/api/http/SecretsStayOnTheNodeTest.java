package org.blockferry.api.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.blockferry.api.node.TestDatabases;
import org.blockferry.nbd.testing.DiskChecksum;
import org.blockferry.nbd.testing.NbdkitServer;
import org.blockferry.nbd.testing.TestPeers;
import org.blockferry.persistence.PersistenceSettings;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * Canary secrets — the API token, the embedded database's password, an NBD TLS pre-shared key —
 * through a job's whole life (and a failing job's): none appears in any response, log line,
 * journal event, read-side row, or argument or environment of a process the node started.
 */
class SecretsStayOnTheNodeTest {

    @Test
    void noSecretLeavesTheNodeThroughAnyView() throws Exception {
        Path dir = TestPeers.scratchDirectory("canary-");
        Path keys = Files.createDirectories(dir.resolve("keys"));
        String psk = HexFormat.of().formatHex(java.security.SecureRandom.getInstanceStrong().generateSeed(16));
        Path pskFile = keys.resolve("alice.psk");
        Files.writeString(pskFile, "alice:" + psk + "\n");
        String token = "canary-token-" + HexFormat.of().formatHex(new java.security.SecureRandom().generateSeed(12));
        PersistenceSettings db = PersistenceSettings.h2(dir.resolve("blockferry-db"), 4);
        String dbPassword = db.password();
        List<String> secrets = List.of(token, dbPassword, psk);

        Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        Logger ours = (Logger) LoggerFactory.getLogger("org.blockferry");
        Level level = ours.getLevel();
        ListAppender<ILoggingEvent> logs = new ListAppender<>();
        logs.start();
        root.addAppender(logs);
        ours.setLevel(Level.DEBUG);
        StringBuilder seen = new StringBuilder();
        Map<Long, String> children = new ConcurrentHashMap<>();
        try (NbdkitServer source = NbdkitServer.start(dir, "--tls=require", "--tls-psk=" + pskFile,
                "--filter=delay", "sparse-random", "size=64M", "percent=50", "seed=9", "rdelay=20ms");
             ApiFixture api = ApiFixture.start(dir, db, token, Map.of("blockferry.nbd.key-dir", keys.toString()))) {
            String uri = "nbds+unix://alice@/?socket=" + source.socket() + "&tls-psk-file=" + pskFile;
            Path target = dir.resolve("copy.img");
            String spec = "{\"job_id\": \"canary\", \"vm\": \"vm\", \"disks\": [{\"id\": \"d0\", \"source\": \""
                    + uri + "\", \"target\": \"" + target + "\"}], \"options\": {\"verify\": true}}";
            Path wrongKey = Files.writeString(keys.resolve("wrong.psk"), "alice:" + "00".repeat(16) + "\n");
            String bad = "{\"job_id\": \"canary-bad\", \"vm\": \"vm\", \"disks\": [{\"id\": \"d0\", \"source\": \""
                    + uri.replace(pskFile.toString(), wrongKey.toString()) + "\", \"target\": \""
                    + dir.resolve("never.img") + "\"}]}";
            record(seen, api.postJson("/api/v1/jobs", spec));
            while (true) { // the node's children while the job copies: nbdkit exporting the target
                watchChildren(children);
                HttpResponse<String> r = api.get("/api/v1/jobs/canary");
                if (r.statusCode() == 200 && ApiFixture.json(r).path("status").asText().matches("completed|failed")) {
                    break;
                }
                Thread.sleep(20);
            }
            record(seen, api.postJson("/api/v1/jobs", bad));
            assertEquals("failed", api.awaitFinal("canary-bad", Duration.ofMinutes(2)).path("status").asText(),
                    "the server refuses the wrong key");
            assertEquals("completed", api.awaitFinal("canary", Duration.ofMinutes(1)).path("status").asText());
            assertEquals(DiskChecksum.ofUri(uri), DiskChecksum.ofFile(target), "the copy equals its source");
            for (String path : List.of("/api/v1/jobs/canary", "/api/v1/jobs/canary-bad", "/api/v1/jobs",
                    "/api/v1/progress/canary", "/api/v1/jobs/canary/events", "/api/v1/jobs/canary-bad/events",
                    "/metrics", "/ready", "/health", "/api/v1/openapi.json", "/")) {
                record(seen, api.get(path));
            }
            record(seen, api.send(api.anonymous("/api/v1/jobs").GET().build()));
            try (Connection c = api.node.database().dataSource().getConnection(); Statement s = c.createStatement()) {
                for (String table : List.of("replication_jobs", "vm_disks", "\"event_journal\"", "\"snapshot\"")) {
                    dump(seen, s, table);
                }
            }
            assertTrue(children.size() >= 1, "saw the node's children: " + children.keySet());
        } finally {
            root.detachAppender(logs);
            ours.setLevel(level);
        }
        logs.list.forEach(e -> seen.append(e.getFormattedMessage()).append('\n')
                .append(e.getThrowableProxy() == null ? "" : e.getThrowableProxy().getMessage()).append('\n'));
        children.values().forEach(c -> seen.append(c).append('\n'));
        assertTrue(seen.toString().contains("canary-bad"), "the failing job was seen too");
        for (String secret : secrets) {
            int at = seen.indexOf(secret);
            assertEquals(-1, at, "a secret leaked: …" + (at < 0 ? "" : seen.substring(Math.max(0, at - 200), at)));
        }
        assertFalse(logs.list.isEmpty(), "logs were captured");
    }

    private static void record(StringBuilder seen, HttpResponse<String> r) {
        seen.append(r.statusCode()).append(' ').append(r.headers().map()).append('\n').append(r.body()).append('\n');
    }

    /** Arguments and environment of every process this JVM started that is alive now. */
    private static void watchChildren(Map<Long, String> children) {
        ProcessHandle.current().descendants().forEach(p -> {
            try {
                String cmd = Files.readString(Path.of("/proc", Long.toString(p.pid()), "cmdline"),
                        StandardCharsets.ISO_8859_1);
                String env = Files.readString(Path.of("/proc", Long.toString(p.pid()), "environ"),
                        StandardCharsets.ISO_8859_1);
                children.put(p.pid(), cmd.replace('\0', ' ') + " | " + env.replace('\0', ' '));
            } catch (java.io.IOException e) {
                // it ended in between
            }
        });
    }

    private static void dump(StringBuilder seen, Statement s, String table) throws Exception {
        try (ResultSet r = s.executeQuery("SELECT * FROM " + table)) {
            ResultSetMetaData m = r.getMetaData();
            while (r.next()) {
                for (int i = 1; i <= m.getColumnCount(); i++) {
                    Object v = r.getObject(i);
                    seen.append(v instanceof byte[] b ? new String(b, StandardCharsets.ISO_8859_1) : v).append('\t');
                }
                seen.append('\n');
            }
        }
    }
}
