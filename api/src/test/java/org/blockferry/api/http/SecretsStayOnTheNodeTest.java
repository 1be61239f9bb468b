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
import org.blockferry.engine.cloudstack.CloudStackDouble;
import org.blockferry.engine.cloudstack.Clouds;
import org.blockferry.nbd.testing.DiskChecksum;
import org.blockferry.nbd.testing.NbdkitServer;
import org.blockferry.nbd.testing.TestPeers;
import org.blockferry.persistence.PersistenceSettings;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * Canary secrets — the API token, the embedded database's password, an NBD TLS pre-shared key, a
 * CloudStack cloud's API and secret keys — through a job's whole life (and a failing job's): none
 * appears in any response, log line, journal event, read-side row, or argument or environment of
 * a process the node started.
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

    /**
     * A CloudStack cloud's canary API key and secret key, configured on the node (cloud {@code c1};
     * cloud {@code c-wrong} signs with a wrong secret key that contains the right one): through a
     * cloudstack job that completes, one CloudStack refuses (431 on createVolume) and one whose
     * signature it does not accept (401), neither key appears in any response, live or replayed
     * SSE event, log line, journal event, read-side row, or argument or environment of a process
     * the node started (nbdkit exporting the attached volume among them); nor does a key file's
     * path appear in what clients and the database see.
     */
    @Test
    void noCloudStackKeyLeavesTheNodeThroughAnyView() throws Exception {
        CloudStackDouble.requireLoopDevices();
        Path dir = TestPeers.scratchDirectory("canary-cloud-");
        java.security.SecureRandom random = new java.security.SecureRandom();
        String apiKey = "canary-api-key-" + HexFormat.of().formatHex(random.generateSeed(12));
        String secretKey = "canary-secret-key-" + HexFormat.of().formatHex(random.generateSeed(12));
        List<String> secrets = List.of(apiKey, secretKey);
        Path wrongSecret = Files.writeString(Files.createDirectories(dir.resolve("keys")).resolve("wrong-secret"),
                secretKey + "x\n");

        Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        Logger ours = (Logger) LoggerFactory.getLogger("org.blockferry");
        Level level = ours.getLevel();
        ListAppender<ILoggingEvent> logs = new ListAppender<>();
        logs.start();
        root.addAppender(logs);
        ours.setLevel(Level.DEBUG);
        StringBuilder seen = new StringBuilder(); // what clients and the database see
        Map<Long, String> children = new ConcurrentHashMap<>();
        List<Path> keyFiles;
        try (CloudStackDouble cloud = CloudStackDouble.start(apiKey, secretKey, dir.resolve("cloud"))) {
            cloud.addZone("zone-1");
            cloud.addDiskOffering("custom", true);
            Path devices = dir.resolve("dev");
            String appliance = cloud.addVm("appliance-1", "Running", devices);
            keyFiles = List.of(cloud.apiKeyFile(), cloud.secretKeyFile(), wrongSecret);
            Map<String, Object> config = new java.util.HashMap<>();
            cloudConfig(config, "c1", cloud, cloud.secretKeyFile(), appliance, devices);
            cloudConfig(config, "c-wrong", cloud, wrongSecret, appliance, devices);
            try (NbdkitServer source = NbdkitServer.start(dir, "--filter=delay", "sparse-random", "size=64M",
                    "percent=50", "seed=19", "rdelay=20ms");
                 ApiFixture api = ApiFixture.start(dir, TestDatabases.Kind.H2, null, config)) {
                String uri = source.uri();
                record(seen, api.postJson("/api/v1/jobs", cloudJob("cs-canary", "vm-a", uri, "c1")));
                java.util.concurrent.CompletableFuture<SseClient.Seen> live = java.util.concurrent.CompletableFuture
                        .supplyAsync(() -> {
                            try {
                                return SseClient.read(api.client, api.request("/api/v1/jobs/cs-canary/events")
                                        .timeout(Duration.ofMinutes(3)).GET().build(),
                                        e -> e.isState("completed") || e.isState("failed"), Duration.ofMinutes(3));
                            } catch (Exception e) {
                                throw new java.util.concurrent.CompletionException(e);
                            }
                        });
                while (true) { // the node's children while the job copies: nbdkit exporting the attached volume
                    watchChildren(children);
                    HttpResponse<String> r = api.get("/api/v1/jobs/cs-canary");
                    if (r.statusCode() == 200 && ApiFixture.json(r).path("status").asText()
                            .matches("completed|failed")) {
                        break;
                    }
                    Thread.sleep(20);
                }
                var good = api.awaitFinal("cs-canary", Duration.ofMinutes(1));
                assertEquals("completed", good.path("status").asText(), good.toString());
                String volume = good.path("disks").get(0).path("volume_id").asText();
                assertEquals(DiskChecksum.ofUri(uri), DiskChecksum.ofFile(cloud.volumeFile(volume), 64L << 20),
                        "the volume holds the source's bytes");
                SseClient.Seen sse = live.get(3, java.util.concurrent.TimeUnit.MINUTES);
                assertEquals(200, sse.status());
                assertTrue(sse.states().contains("completed"), "the live stream saw the job end: " + sse.states());
                sse.events().forEach(e -> seen.append(e.event()).append(' ').append(e.data()).append(' ')
                        .append(e.comment()).append('\n'));

                cloud.failNext("createVolume", 431, "Unable to execute API command createvolume due to invalid value");
                record(seen, api.postJson("/api/v1/jobs", cloudJob("cs-canary-431", "vm-b", uri, "c1")));
                var refused = api.awaitFinal("cs-canary-431", Duration.ofMinutes(2));
                assertEquals("failed", refused.path("status").asText(), refused.toString());
                assertTrue(refused.path("error").asText().contains("431"), refused.toString());

                int authFailures = cloud.authFailures();
                record(seen, api.postJson("/api/v1/jobs", cloudJob("cs-canary-401", "vm-c", uri, "c-wrong")));
                var unsigned = api.awaitFinal("cs-canary-401", Duration.ofMinutes(2));
                assertEquals("failed", unsigned.path("status").asText(), unsigned.toString());
                assertTrue(unsigned.path("error").asText().contains("401"), unsigned.toString());
                assertTrue(cloud.authFailures() > authFailures, "the wrong secret key was refused");
                watchChildren(children);

                for (String path : List.of("/api/v1/jobs/cs-canary", "/api/v1/jobs/cs-canary-431",
                        "/api/v1/jobs/cs-canary-401", "/api/v1/jobs", "/api/v1/progress/cs-canary",
                        "/api/v1/jobs/cs-canary/events", "/api/v1/jobs/cs-canary-431/events",
                        "/api/v1/jobs/cs-canary-401/events", "/api/v1/cluster", "/metrics", "/ready", "/health")) {
                    record(seen, api.get(path));
                }
                try (Connection c = api.node.database().dataSource().getConnection();
                     Statement s = c.createStatement()) {
                    List<String> tables = new ArrayList<>();
                    try (ResultSet t = s.executeQuery("SELECT TABLE_NAME FROM INFORMATION_SCHEMA.TABLES"
                            + " WHERE TABLE_SCHEMA = 'PUBLIC'")) {
                        while (t.next()) {
                            tables.add(t.getString(1));
                        }
                    }
                    assertTrue(tables.stream().anyMatch(t -> t.equalsIgnoreCase("event_journal")), "tables: " + tables);
                    for (String table : tables) {
                        StringBuilder rows = new StringBuilder();
                        dump(rows, s, "\"" + table + "\"");
                        if (table.equalsIgnoreCase("event_journal")) {
                            assertTrue(rows.indexOf("signature mismatch") >= 0, "the events' payloads were read: "
                                    + rows);
                        }
                        seen.append("-- ").append(table).append('\n').append(rows);
                    }
                }
            }
            assertTrue(cloud.calls().stream().anyMatch(c -> c.command().equals("attachVolume")), "a volume was"
                    + " attached: " + cloud.calls());
        } finally {
            root.detachAppender(logs);
            ours.setLevel(level);
        }
        String views = seen.toString();
        assertTrue(views.contains("cs-canary-431") && views.contains("cs-canary-401"), "the failing jobs were seen");
        assertTrue(views.contains("cloudstack://c1/bf-vm-a-d0"), "the documents name the volume by its cloud");
        String devices = dir.resolve("dev").toString();
        assertTrue(children.values().stream().anyMatch(c -> c.contains("nbdkit") && (c.contains(devices + "/")
                || c.contains("/dev/loop"))), "saw nbdkit export the attached volume: " + children.values());
        StringBuilder everything = new StringBuilder(views);
        logs.list.forEach(e -> everything.append(e.getFormattedMessage()).append('\n')
                .append(e.getThrowableProxy() == null ? "" : e.getThrowableProxy().getMessage()).append('\n'));
        children.values().forEach(c -> everything.append(c).append('\n'));
        assertTrue(logs.list.stream().anyMatch(e -> e.getFormattedMessage().contains("cs-canary-401")),
                "the failing job's lines were captured");
        Files.writeString(dir.resolve("seen.txt"), everything); // what was searched, for a failure's reader
        for (String secret : secrets) {
            int at = everything.indexOf(secret);
            assertEquals(-1, at, "a CloudStack key leaked: …"
                    + (at < 0 ? "" : everything.substring(Math.max(0, at - 300), at)));
        }
        for (Path file : keyFiles) {
            int at = views.indexOf(file.toString());
            assertEquals(-1, at, "a key file's path reached a client or the database: …"
                    + (at < 0 ? "" : views.substring(Math.max(0, at - 300), at)));
        }
    }

    /** A job of one disk from an NBD export into cloud {@code cloud}. */
    private static String cloudJob(String id, String vm, String source, String cloud) {
        return "{\"job_id\": \"" + id + "\", \"vm\": \"" + vm + "\", \"disks\": [{\"id\": \"d0\", \"source\": \""
                + source + "\"}], \"target\": {\"kind\": \"cloudstack\", \"cloud\": \"" + cloud + "\"}}";
    }

    private static void cloudConfig(Map<String, Object> config, String name, CloudStackDouble cloud, Path secretKeyFile,
                                    String appliance, Path devices) {
        String key = Clouds.KEY + "." + name + ".";
        config.put(key + "url", cloud.url().toString());
        config.put(key + "api-key-file", cloud.apiKeyFile().toString());
        config.put(key + "secret-key-file", secretKeyFile.toString());
        config.put(key + "zone", "zone-1");
        config.put(key + "disk-offering", "custom");
        config.put(key + "appliance-vm-id", appliance);
        config.put(key + "device-dir", devices.toString());
        config.put(key + "device-timeout", "10s");
        config.put(key + "async-timeout", "30s");
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

    /** Every row of {@code table}, BLOB and CLOB columns (journal and snapshot payloads) by their content. */
    private static void dump(StringBuilder seen, Statement s, String table) throws Exception {
        try (ResultSet r = s.executeQuery("SELECT * FROM " + table)) {
            ResultSetMetaData m = r.getMetaData();
            while (r.next()) {
                for (int i = 1; i <= m.getColumnCount(); i++) {
                    Object v = r.getObject(i);
                    if (v instanceof java.sql.Blob blob) { // its toString is H2's description, not its bytes
                        v = blob.getBytes(1, (int) blob.length());
                    } else if (v instanceof java.sql.Clob clob) {
                        v = clob.getSubString(1, (int) clob.length());
                    }
                    seen.append(v instanceof byte[] b ? new String(b, StandardCharsets.ISO_8859_1) : v).append('\t');
                }
                seen.append('\n');
            }
        }
    }
}
