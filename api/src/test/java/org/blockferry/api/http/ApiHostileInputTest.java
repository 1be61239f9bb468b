package org.blockferry.api.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.blockferry.api.node.TestDatabases;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.LoggerFactory;

/**
 * Hostile input through the real HTTP server. Every case of the table gets its exact 4xx status
 * and our JSON error naming the field, creates no job, and leaves the node healthy. The node's
 * own limits (queued jobs, event streams, 2,000 streams at once) have tests of their own. Across
 * the class, no API token appears in any response (body or headers) or in any log event.
 */
@Timeout(value = 10, unit = java.util.concurrent.TimeUnit.MINUTES)
class ApiHostileInputTest {
    private static final String TARGET = "/var/tmp/bf-hostile-never-written.img";
    private static final Duration BODY_TIMEOUT = Duration.ofSeconds(2);
    /** Every fixture's token, and every place one was seen where it must never be. */
    private static final List<String> TOKENS = new CopyOnWriteArrayList<>();
    private static final List<String> LEAKS = new CopyOnWriteArrayList<>();
    private static ListAppender<ILoggingEvent> logs;
    private static Level ourLevel;

    /** What a case got back: enough to check the status, the error and that no token leaked. */
    private record Reply(int status, String body, String headers) {
    }

    private interface Call {
        Reply send(ApiFixture api) throws Exception;
    }

    /** A hostile request and its one right answer; {@code jobId}: the job it must not have created. */
    private record Case(String name, Call call, int status, String field, String jobId) {
    }

    @BeforeAll
    static void captureLogs() {
        logs = new ListAppender<>();
        logs.start();
        ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).addAppender(logs);
        Logger ours = (Logger) LoggerFactory.getLogger("org.blockferry");
        ourLevel = ours.getLevel();
        ours.setLevel(Level.DEBUG);
    }

    @AfterAll
    static void noTokenInAnyLogEvent() {
        ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).detachAppender(logs);
        ((Logger) LoggerFactory.getLogger("org.blockferry")).setLevel(ourLevel);
        List<String> found = new ArrayList<>();
        for (ILoggingEvent e : logs.list) {
            StringBuilder text = new StringBuilder(e.getFormattedMessage());
            for (IThrowableProxy t = e.getThrowableProxy(); t != null; t = t.getCause()) {
                text.append(' ').append(t.getMessage());
            }
            for (String token : TOKENS) {
                if (text.indexOf(token) >= 0) {
                    found.add(e.getLoggerName() + ": " + e.getFormattedMessage());
                }
            }
        }
        assertTrue(logs.list.size() > 0, "the log was captured");
        assertEquals(List.of(), found, "log events holding an API token");
    }

    private static ApiFixture start(String name, Map<String, Object> overrides) throws Exception {
        Path dir = TestPeers.scratchDirectory(name);
        Map<String, Object> settings = new java.util.HashMap<>(overrides);
        // the jobs these tests let through name targets in /var/tmp (none is ever written: their
        // sources do not answer); the storage policy has tests of its own
        settings.putIfAbsent("blockferry.storage.allowed-roots", List.of(dir.toString(), "/var/tmp"));
        ApiFixture api = ApiFixture.start(dir, TestDatabases.Kind.H2, null, settings);
        TOKENS.add(api.token);
        return api;
    }

    // ---- the table ----

    @Test
    void everyHostileRequestGetsItsStatusAndFieldCreatesNothingAndLeavesTheNodeHealthy() throws Exception {
        try (ApiFixture api = start("api-hostile-", Map.of("blockferry.http.body-timeout",
                BODY_TIMEOUT.toMillis() + "ms"))) {
            List<Case> cases = cases(api);
            assertTrue(cases.size() >= 50, "at least 50 hostile requests, got " + cases.size());
            List<String> failures = new ArrayList<>();
            for (Case c : cases) {
                Reply r = c.call().send(api);
                checkNoToken(api, c.name(), r);
                String problem = problem(c, r);
                if (problem == null && c.jobId() != null && api.get("/api/v1/jobs/" + c.jobId()).statusCode() != 404) {
                    problem = "job " + c.jobId() + " exists";
                }
                if (problem == null && api.get("/health").statusCode() != 200) {
                    problem = "the node is not healthy after it";
                }
                if (problem != null) {
                    failures.add(c.name() + ": expected " + c.status() + " naming " + c.field() + ", got " + problem
                            + ": " + r.body().substring(0, Math.min(300, r.body().length())));
                }
            }
            assertEquals(List.of(), failures);
            // a request line Pekko cannot parse never reaches a route: its plain 400, and a log line
            // that does not repeat the request (here, a token in its query; the canary checks the log)
            Reply unparsable = raw(api, "GET /api/v1/jobs/h-x/events?access_token=" + api.token + "&x=%zz HTTP/1.1"
                    + "\r\nHost: 127.0.0.1", null);
            checkNoToken(api, "an unparsable request line", unparsable);
            assertEquals(400, unparsable.status(), unparsable.body());
            JsonNode page = ApiFixture.json(api.get("/api/v1/jobs"));
            assertEquals(0, page.path("count").asInt(), "no hostile request created a job: " + page);
            assertEquals(List.of(), LEAKS, "responses holding the API token");
        }
    }

    private static String problem(Case c, Reply r) {
        if (r.status() != c.status()) {
            return "status " + r.status();
        }
        JsonNode error;
        try {
            error = ApiFixture.JSON.readTree(r.body()).path("error");
        } catch (IOException e) {
            return "a body that is not JSON";
        }
        if (!error.path("code").isTextual() || error.path("message").asText().isEmpty()) {
            return "not our error shape";
        }
        if (!c.field().equals(error.path("field").asText())) {
            return "field " + error.path("field");
        }
        if (r.body().contains("\tat ") || r.body().contains("Exception")) {
            return "a stack trace or an exception's name";
        }
        return null;
    }

    private static List<Case> cases(ApiFixture api) {
        List<Case> c = new ArrayList<>();
        hostCases(c);
        tokenCases(c);
        contentTypeCases(c);
        bodyCases(c);
        controlCharacterCases(c);
        lengthAndCountCases(c);
        c.add(new Case("a body 1 byte per second", ApiHostileInputTest::slowBody, 408, "body", "h-slow"));
        c.add(new Case("Last-Event-ID not a number", a -> send(a, a.request("/api/v1/jobs/h-x/events")
                .header("Last-Event-ID", "1; DROP TABLE").GET()), 400, "Last-Event-ID", null));
        c.add(new Case("a job id that walks up the path", a -> send(a, a.request("/api/v1/jobs/..%2F..%2Fetc%2Fpasswd")
                .GET()), 404, "id", null));
        return c;
    }

    /** A Host this server does not answer to: a web page that got its name resolved here (DNS rebinding). */
    private static void hostCases(List<Case> c) {
        String[][] hosts = {
            {"/api/v1/jobs", "evil.example"}, {"/health", "evil.example:8080"}, {"/ready", "localhost.evil.example"},
            {"/metrics", "127.0.0.1.nip.io"}, {"/", "attacker.test"}, {"/api/v1/openapi.json", "[::2]"},
            {"/static/app.js", "10.0.0.1"}, {"/api/v1/jobs/h-host/events", "0.0.0.0"},
        };
        for (String[] h : hosts) {
            c.add(new Case("Host " + h[1] + " on GET " + h[0], a -> raw(a, "GET " + h[0] + " HTTP/1.1\r\nHost: " + h[1]
                    + "\r\nAuthorization: Bearer " + a.token, null), 421, "Host", null));
        }
        c.add(new Case("Host evil.example on a submission", a -> raw(a, "POST /api/v1/jobs HTTP/1.1\r\nHost: evil.example"
                + "\r\nAuthorization: Bearer " + a.token + "\r\nContent-Type: application/json\r\nContent-Length: "
                + bytes(spec("h-host-post")).length, bytes(spec("h-host-post"))), 421, "Host", "h-host-post"));
        c.add(new Case("no Host at all (HTTP/1.0)", a -> raw(a, "GET /api/v1/jobs HTTP/1.0\r\nAuthorization: Bearer "
                + a.token, null), 421, "Host", null));
    }

    private static void tokenCases(List<Case> c) {
        c.add(new Case("no token", a -> send(a, a.anonymous("/api/v1/jobs").GET()), 401, "Authorization", null));
        c.add(new Case("no token on a submission", a -> send(a, json(a.anonymous("/api/v1/jobs"), spec("h-anon"))),
                401, "Authorization", "h-anon"));
        c.add(new Case("a wrong token", a -> send(a, json(a.anonymous("/api/v1/jobs").header("Authorization",
                "Bearer " + a.token.substring(1) + "0"), spec("h-wrong"))), 401, "Authorization", "h-wrong"));
        c.add(new Case("the token as Basic credentials", a -> send(a, a.anonymous("/api/v1/jobs").header(
                "Authorization", "Basic " + a.token).GET()), 401, "Authorization", null));
        c.add(new Case("an empty bearer token", a -> send(a, a.anonymous("/api/v1/jobs").header("Authorization",
                "Bearer ").GET()), 401, "Authorization", null));
        c.add(new Case("a wrong token in the event stream's query", a -> send(a, a.anonymous(
                "/api/v1/jobs/h-x/events?access_token=not-the-token-0123456789").GET()), 401, "access_token", null));
        String[][] queryRoutes = {
            {"POST", "/api/v1/jobs", "h-query-submit"}, {"POST", "/api/v1/replication/start", "h-query-seed"},
            {"POST", "/api/v1/jobs/h-query-cancel/cancel", "h-query-cancel"}, {"GET", "/api/v1/jobs", null},
            {"GET", "/api/v1/jobs/h-query-get", null}, {"GET", "/api/v1/progress/h-query-get", null},
        };
        for (String[] r : queryRoutes) {
            c.add(new Case("the token in the query of " + r[0] + " " + r[1], a -> {
                HttpRequest.Builder b = a.anonymous(r[1] + "?access_token=" + a.token);
                return send(a, r[0].equals("POST") ? json(b, spec(r[2] == null ? "h-q" : r[2])) : b.GET());
            }, 401, "access_token", r[2]));
        }
        c.add(new Case("the token in the query beside a valid header", a -> send(a, a.request("/api/v1/jobs"
                + "?access_token=" + a.token).GET()), 401, "access_token", null));
    }

    /** A cross-site form (or a fetch without a preflight) cannot send application/json. */
    private static void contentTypeCases(List<Case> c) {
        String[] types = {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", null};
        String[][] routes = {
            {"/api/v1/jobs", "h-ct-submit"}, {"/api/v1/replication/start", "h-ct-seed"},
            {"/api/v1/jobs/h-ct-cancel/cancel", "h-ct-cancel"},
        };
        for (String[] route : routes) {
            for (String type : types) {
                c.add(new Case("POST " + route[0] + " as " + type, a -> {
                    HttpRequest.Builder b = a.request(route[0]);
                    if (type != null) {
                        b.header("Content-Type", type);
                    }
                    return send(a, b.POST(HttpRequest.BodyPublishers.ofString(route[0].endsWith("cancel") ? ""
                            : spec(route[1]))));
                }, 415, "Content-Type", route[1]));
            }
        }
        c.add(new Case("a cancel with fields", a -> reply(a.postJson("/api/v1/jobs/h-cancel/cancel",
                "{\"force\": true}")), 400, "force", null));
        c.add(new Case("a cancel whose body is not JSON", a -> reply(a.postJson("/api/v1/jobs/h-cancel/cancel", "now")),
                400, "body", null));
    }

    private static void bodyCases(List<Case> c) {
        String big = spec("h-big").replace("\"vm\": \"vm1\"", "\"vm\": \"vm1\", \"note\": \"" + "x".repeat(2 << 20)
                + "\"");
        c.add(new Case("a 2 MiB body", a -> reply(a.postJson("/api/v1/jobs", big)),
                413, "body", "h-big"));
        c.add(new Case("a 2 MiB body without a length (chunked)", a -> send(a, a.request("/api/v1/jobs")
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofInputStream(
                        () -> new ByteArrayInputStream(bytes(big))))), 413, "body", "h-big"));
        String deep = "[".repeat(40) + "]".repeat(40);
        c.add(post("JSON nested 40 deep", spec("h-deep").replace("\"vm\": \"vm1\"", "\"vm\": \"vm1\", \"x\": " + deep),
                400, "x" + "[0]".repeat(31), "h-deep"));
        c.add(post("JSON nested 100000 deep", "{\"a\": " + "[".repeat(100_000) + "]".repeat(100_000) + "}", 400,
                "a" + "[0]".repeat(31), null));
        c.add(post("vm twice", spec("h-dup-vm").replace("\"vm\": \"vm1\"", "\"vm\": \"vm1\", \"vm\": \"vm2\""), 400,
                "vm", "h-dup-vm"));
        c.add(post("job_id twice", spec("h-dup-id").replace("\"vm\": \"vm1\"", "\"vm\": \"vm1\", \"job_id\": \"h-b\""),
                400, "job_id", "h-dup-id"));
        c.add(post("a disk's target twice", spec("h-dup-target").replace("\"target\"", "\"target\": \"/var/tmp/x.img\","
                + " \"target\""), 400, "disks[0].target", "h-dup-target"));
        c.add(post("an unknown field", spec("h-unknown").replace("\"vm\": \"vm1\"", "\"vm\": \"vm1\", \"priority\": 9"),
                400, "priority", "h-unknown"));
        c.add(post("an unknown disk field", spec("h-unknown-disk").replace("\"id\": \"d0\"",
                "\"id\": \"d0\", \"size\": 1"),
                400, "disks[0].size", "h-unknown-disk"));
        c.add(post("vm a number", spec("h-type-vm").replace("\"vm\": \"vm1\"", "\"vm\": 1"), 400, "vm", "h-type-vm"));
        c.add(post("disks an object", "{\"job_id\": \"h-type-disks\", \"vm\": \"vm1\", \"disks\": {\"id\": \"d0\"}}",
                400, "disks", "h-type-disks"));
        c.add(post("verify a string", spec("h-type-verify").replace("\"vm\": \"vm1\"", "\"vm\": \"vm1\", \"options\":"
                + " {\"verify\": \"yes\"}"), 400, "options.verify", "h-type-verify"));
        c.add(post("max_parallel_disks beyond an int", spec("h-type-int").replace("\"vm\": \"vm1\"", "\"vm\": \"vm1\","
                + " \"options\": {\"max_parallel_disks\": 99999999999999999999}"), 400, "options.max_parallel_disks",
                "h-type-int"));
        c.add(new Case("bytes that are not UTF-8", a -> send(a, a.request("/api/v1/jobs").header("Content-Type",
                "application/json").POST(HttpRequest.BodyPublishers.ofByteArray(new byte[] {'{', '"', 'v', 'm', '"',
                ':', '"', (byte) 0xC3, (byte) 0x28, '"', '}'}))), 400, "body", null));
        c.add(post("a raw NUL byte in a string", "{\"vm\": \"a\u0000b\"}", 400, "body", null));
    }

    /** A control character in every string field: a log line, a terminal or a file name it must not reach. */
    private static void controlCharacterCases(List<Case> c) {
        String[] controls = {"\\u0000", "\\n", "\\r", "\\t", "\\u001b[31m", "\\u007f", "\\u0085", "\\u2028"};
        String[][] fields = {
            {"job_id", "\"job_id\": \"h-ctl%s\", \"vm\": \"vm1\", \"disks\": [" + disk("d0") + "]"},
            {"vm", "\"job_id\": \"h-ctl-vm\", \"vm\": \"vm%s1\", \"disks\": [" + disk("d0") + "]"},
            {"disks[0].id", "\"job_id\": \"h-ctl-id\", \"vm\": \"vm1\", \"disks\": [{\"id\": \"d%s0\", \"source\":"
                + " \"nbd://127.0.0.1:1/a\", \"target\": \"" + TARGET + "\"}]"},
            {"disks[0].source", "\"job_id\": \"h-ctl-source\", \"vm\": \"vm1\", \"disks\": [{\"id\": \"d0\", \"source\":"
                + " \"nbd://127.0.0.1:1/a%s\", \"target\": \"" + TARGET + "\"}]"},
            {"disks[1].target", "\"job_id\": \"h-ctl-target\", \"vm\": \"vm1\", \"disks\": [" + disk("d0") + ", {\"id\":"
                + " \"d1\", \"source\": \"nbd://127.0.0.1:1/b\", \"target\": \"/var/tmp/x%s.img\"}]"},
            {"disks[0].bitmap", "\"job_id\": \"h-ctl-bitmap\", \"vm\": \"vm1\", \"source\": {\"kind\": \"qemu\"},"
                + " \"disks\": [{\"id\": \"d0\", \"source\": \"nbd://127.0.0.1:1/a\", \"target\": \"" + TARGET + "\","
                + " \"bitmap\": \"b%s\"}]"},
            {"source.kind", "\"job_id\": \"h-ctl-kind\", \"vm\": \"vm1\", \"source\": {\"kind\": \"nbd%s\"}, \"disks\": ["
                + disk("d0") + "]"},
            {"mode", "\"job_id\": \"h-ctl-mode\", \"vm\": \"vm1\", \"mode\": \"full%s\", \"disks\": ["
                + disk("d0") + "]"},
            {"source.url", "\"job_id\": \"h-ctl-url\", \"vm\": \"vm1\", \"source\": {\"kind\": \"vmware\", \"url\":"
                + " \"https://vc%s/sdk\"}, \"disks\": [" + disk("d0") + "]"},
            {"source.user", "\"job_id\": \"h-ctl-user\", \"vm\": \"vm1\", \"source\": {\"kind\": \"vmware\", \"user\":"
                + " \"admin%s\"}, \"disks\": [" + disk("d0") + "]"},
            {"source.vm", "\"job_id\": \"h-ctl-svm\", \"vm\": \"vm1\", \"source\": {\"kind\": \"vmware\", \"vm\":"
                + " \"dc/vm/x%s\"}, \"disks\": [" + disk("d0") + "]"},
            {"source.datastore_map.[ds1] vm/", "\"job_id\": \"h-ctl-map\", \"vm\": \"vm1\", \"source\": {\"kind\":"
                + " \"vmware\", \"datastore_map\": {\"[ds1] vm/\": \"/srv/ds1%s\"}}, \"disks\": [" + disk("d0") + "]"},
            {"source.datastore_map", "\"job_id\": \"h-ctl-key\", \"vm\": \"vm1\", \"source\": {\"kind\": \"vmware\","
                + " \"datastore_map\": {\"[ds1]%s\": \"/srv/ds1\"}}, \"disks\": [" + disk("d0") + "]"},
        };
        for (int i = 0; i < fields.length; i++) {
            String control = controls[i % controls.length];
            String[] f = fields[i];
            String jobId = f[1].substring(f[1].indexOf("h-ctl"), f[1].indexOf('"', f[1].indexOf("h-ctl")))
                    .replace("%s", "");
            c.add(post("control character " + control + " in " + f[0], "{" + String.format(f[1], control) + "}", 400,
                    f[0], jobId));
        }
    }

    private static void lengthAndCountCases(List<Case> c) {
        c.add(post("a 4097-character target", spec("h-long-target").replace(TARGET, "/" + "t".repeat(4096)), 400,
                "disks[0].target", "h-long-target"));
        c.add(post("a 100000-character source", spec("h-long-source").replace("nbd://127.0.0.1:1/a",
                "nbd://127.0.0.1:1/" + "s".repeat(100_000)), 400, "disks[0].source", "h-long-source"));
        c.add(post("a 4097-character vm", spec("h-long-vm").replace("vm1", "v".repeat(4097)), 400, "vm", "h-long-vm"));
        c.add(post("a 256-character vm", spec("h-256-vm").replace("vm1", "v".repeat(256)), 400, "vm", "h-256-vm"));
        c.add(post("a 5000-character job id", spec("j".repeat(5000)), 400, "job_id", null));
        c.add(post("a 5000-character key", spec("h-long-key").replace("\"vm\": \"vm1\"", "\"vm\": \"vm1\", \""
                + "k".repeat(5000) + "\": 1"), 400, "body", "h-long-key"));
        c.add(post("65 disks", "{\"job_id\": \"h-65\", \"vm\": \"vm1\", \"disks\": [" + disks(65) + "]}", 400, "disks",
                "h-65"));
        c.add(post("5000 disks", "{\"job_id\": \"h-5000\", \"vm\": \"vm1\", \"disks\": [" + disks(5000) + "]}", 400,
                "disks", "h-5000"));
    }

    // ---- the node's limits ----

    @Test
    void jobsBeyondMaxQueuedAndStreamsBeyondTheirLimitGet429AndTheirPlacesComeBack() throws Exception {
        try (ApiFixture api = start("api-limits-", Map.of("blockferry.jobs.max-queued", "3",
                "blockferry.http.sse.max-connections", "3"));
             SilentServer silent = SilentServer.start()) {
            for (int i = 0; i < 3; i++) {
                HttpResponse<String> r = api.postJson("/api/v1/jobs", silentJob("limit-" + i, silent, 1));
                checkNoToken(api, "submit", reply(r));
                assertEquals(202, r.statusCode(), r.body());
            }
            HttpResponse<String> refused = api.postJson("/api/v1/jobs", silentJob("limit-3", silent, 1));
            checkNoToken(api, "submit beyond", reply(refused));
            assertEquals(429, refused.statusCode(), refused.body());
            assertEquals("blockferry.jobs.max-queued", ApiFixture.json(refused).path("error").path("field").asText());
            assertEquals("30", refused.headers().firstValue("Retry-After").orElse(null));
            assertEquals(404, api.get("/api/v1/jobs/limit-3").statusCode(), "the refused job does not exist");

            List<Socket> streams = new ArrayList<>();
            try {
                for (int i = 0; i < 3; i++) {
                    streams.add(openStream(api, "limit-0"));
                    assertEquals(200, status(streams.get(i)), "stream " + i);
                }
                Reply fourth;
                try (Socket s = openStream(api, "limit-0")) {
                    RawHttp.Response r = RawHttp.read(s.getInputStream()); // a refusal closes the connection
                    fourth = new Reply(r.status(), r.body(), r.head());
                }
                checkNoToken(api, "stream beyond", fourth);
                assertEquals(429, fourth.status(), fourth.body());
                assertTrue(fourth.body().contains("blockferry.http.sse.max-connections"), fourth.body());
                streams.remove(0).close();
                assertEquals(200, awaitStreamSlot(api, "limit-0"), "a closed stream gives its slot back");
            } finally {
                for (Socket s : streams) {
                    s.close();
                }
            }

            // the silent server goes away: the disks fail (a cancel would wait for their handshakes)
            silent.close();
            for (int i = 0; i < 3; i++) {
                assertEquals("failed", api.awaitFinal("limit-" + i, Duration.ofMinutes(1)).path("status").asText());
            }
            HttpResponse<String> again = api.postJson("/api/v1/jobs", spec("limit-3"));
            assertEquals(202, again.statusCode(), "room again once the jobs ended: " + again.body());
            assertEquals(200, api.get("/health").statusCode());
            assertEquals(List.of(), LEAKS, "responses holding the API token");
        }
    }

    /**
     * 2,000 event streams at once against the default limit (1,000): half are served, half get 429
     * and their connection closed, and the node keeps answering its probes quickly.
     */
    @Test
    void twoThousandEventStreamsAtOnceLeaveTheNodeHealthy() throws Exception {
        int clients = 2_000;
        try (ApiFixture api = start("api-crowd-", Map.of());
             SilentServer silent = SilentServer.start()) {
            assertEquals(202, api.postJson("/api/v1/jobs", silentJob("crowd", silent, 1)).statusCode());
            List<Socket> sockets = new ArrayList<>();
            try {
                long started = System.nanoTime();
                for (int i = 0; i < clients; i++) {
                    sockets.add(openStream(api, "crowd"));
                }
                int served = 0;
                int refused = 0;
                for (Socket s : sockets) {
                    int status = status(s);
                    served += status == 200 ? 1 : 0;
                    refused += status == 429 ? 1 : 0;
                }
                long openedMillis = (System.nanoTime() - started) / 1_000_000;
                assertEquals(1_000, served, "streams served");
                assertEquals(clients - 1_000, refused, "streams refused with 429");
                long slowest = 0;
                for (int i = 0; i < 10; i++) {
                    long t0 = System.nanoTime();
                    assertEquals(200, api.get("/health").statusCode());
                    assertEquals(200, api.get("/api/v1/jobs").statusCode());
                    slowest = Math.max(slowest, (System.nanoTime() - t0) / 1_000_000);
                    Thread.sleep(100);
                }
                Runtime rt = Runtime.getRuntime();
                System.out.printf("MEASURE sse-crowd clients=%d served=%d refused=%d open_ms=%d"
                        + " slowest_health_and_list_ms=%d heap_used_mib=%d%n", clients, served, refused, openedMillis, slowest,
                        (rt.totalMemory() - rt.freeMemory()) >> 20);
                assertTrue(slowest < 1_000, "/health and the job list answered in " + slowest + " ms");
            } finally {
                for (Socket s : sockets) {
                    s.close();
                }
            }
            assertEquals(200, awaitStreamSlot(api, "crowd"), "the slots come back once the clients leave");
            assertEquals(200, api.get("/health").statusCode());
            assertEquals(List.of(), LEAKS, "responses holding the API token");
        }
    }

    // ---- helpers ----

    private static Reply send(ApiFixture api, HttpRequest.Builder request) throws Exception {
        return reply(api.send(request.build()));
    }

    private static Reply reply(HttpResponse<String> r) {
        return new Reply(r.statusCode(), r.body(), r.headers().map().toString());
    }

    private static Reply raw(ApiFixture api, String head, byte[] body) throws IOException {
        RawHttp.Response r = RawHttp.exchange(api.server.port(), head, body, Duration.ofSeconds(30));
        return new Reply(r.status(), r.body(), r.head());
    }

    private static HttpRequest.Builder json(HttpRequest.Builder b, String body) {
        return b.header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body));
    }

    private static Case post(String name, String body, int status, String field, String jobId) {
        return new Case(name, a -> reply(a.postJson("/api/v1/jobs", body)), status,
                field, jobId);
    }

    private static void checkNoToken(ApiFixture api, String where, Reply r) {
        if (r.body().contains(api.token) || r.headers().contains(api.token)) {
            LEAKS.add(where + ": " + r.headers());
        }
    }

    /** Sends its head at once and then one byte a second: the body timeout ends it. */
    private static Reply slowBody(ApiFixture api) throws Exception {
        byte[] body = bytes(spec("h-slow"));
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), api.server.port())) {
            s.setSoTimeout(30_000);
            OutputStream out = s.getOutputStream();
            out.write(("POST /api/v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + api.token
                    + "\r\nContent-Type: application/json\r\nContent-Length: " + body.length + "\r\n\r\n")
                    .getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            Thread trickle = new Thread(() -> {
                try {
                    for (byte b : body) {
                        out.write(b);
                        out.flush();
                        Thread.sleep(1_000);
                    }
                } catch (IOException | InterruptedException e) {
                    // the server gave up on us, as it should
                }
            }, "slow-body");
            trickle.setDaemon(true);
            long t0 = System.nanoTime();
            trickle.start();
            RawHttp.Response r = RawHttp.read(s.getInputStream());
            long millis = (System.nanoTime() - t0) / 1_000_000;
            trickle.interrupt();
            assertTrue(millis < BODY_TIMEOUT.toMillis() + 5_000, "answered after " + millis + " ms");
            return new Reply(r.status(), r.body(), r.head());
        }
    }

    /** A connection asking for the job's event stream (its answer is read by {@link #status}). */
    private static Socket openStream(ApiFixture api, String jobId) throws IOException {
        Socket s = new Socket(InetAddress.getLoopbackAddress(), api.server.port());
        s.setSoTimeout(60_000);
        s.getOutputStream().write(("GET /api/v1/jobs/" + jobId + "/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                + "Authorization: Bearer " + api.token + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
        s.getOutputStream().flush();
        return s;
    }

    /** The status of the answer on {@code s}; the head is checked for the token too. */
    private static int status(Socket s) throws IOException {
        InputStream in = s.getInputStream();
        StringBuilder head = new StringBuilder();
        while (head.indexOf("\r\n\r\n") < 0) {
            int b = in.read();
            if (b < 0) {
                break;
            }
            head.append((char) b);
        }
        for (String token : TOKENS) {
            if (head.indexOf(token) >= 0) {
                LEAKS.add("event stream head: " + head);
            }
        }
        return Integer.parseInt(head.toString().split(" ")[1]);
    }

    /** Opens streams until one is served (a closed one's slot is given back as its stream ends). */
    private static int awaitStreamSlot(ApiFixture api, String jobId) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        int last = 0;
        while (System.nanoTime() < deadline) {
            try (Socket s = openStream(api, jobId)) {
                last = status(s);
                if (last == 200) {
                    return last;
                }
            }
            Thread.sleep(200);
        }
        return last;
    }

    private static String silentJob(String jobId, SilentServer silent, int disks) {
        StringBuilder d = new StringBuilder();
        for (int i = 0; i < disks; i++) {
            d.append(i == 0 ? "" : ", ").append("{\"id\": \"d").append(i).append("\", \"source\": \"")
                    .append(silent.uri(jobId + "-src-" + i)).append("\", \"target\": \"")
                    .append(silent.uri(jobId + "-dst-" + i)).append("\"}");
        }
        return "{\"job_id\": \"" + jobId + "\", \"vm\": \"vm-" + jobId + "\", \"disks\": [" + d + "]}";
    }

    private static String spec(String jobId) {
        return "{\"job_id\": \"" + jobId + "\", \"vm\": \"vm1\", \"disks\": [" + disk("d0") + "]}";
    }

    private static String disk(String id) {
        return "{\"id\": \"" + id + "\", \"source\": \"nbd://127.0.0.1:1/a\", \"target\": \"" + TARGET + "\"}";
    }

    private static String disks(int n) {
        StringBuilder d = new StringBuilder();
        for (int i = 0; i < n; i++) {
            d.append(i == 0 ? "" : ", ").append("{\"id\": \"d").append(i).append("\", \"source\": \"nbd://127.0.0.1:1/")
                    .append(i).append("\", \"target\": \"/var/tmp/bf-hostile-").append(i).append(".img\"}");
        }
        return d.toString();
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
