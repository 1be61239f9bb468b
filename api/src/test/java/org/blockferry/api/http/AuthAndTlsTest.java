package org.blockferry.api.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.ConfigFactory;

import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.blockferry.api.node.TestDatabases;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.Test;

/**
 * The bearer token on /api (always required, generated when none is set), the open probes, the
 * Host names the server answers to, refusing plain HTTP to the network, and HTTPS.
 */
class AuthAndTlsTest {
    private static final String TOKEN = "s3cret-token-0123456789abcdef";

    @Test
    void everyApiRouteNeedsTheTokenAndTheProbesDoNot() throws Exception {
        Path dir = TestPeers.scratchDirectory("api-auth-");
        try (ApiFixture api = ApiFixture.start(dir, TestDatabases.Kind.H2, TOKEN, Map.of())) {
            HttpClient client = api.client;
            for (String path : new String[] {"/api/v1/jobs", "/api/v1/jobs/x", "/api/v1/progress/x",
                "/api/v1/jobs/x/events", "/api/v1/openapi.json"}) {
                HttpResponse<String> none = client.send(HttpRequest.newBuilder(URI.create(api.url(path))).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertEquals(401, none.statusCode(), path);
                assertEquals("Authorization", ApiFixture.json(none).path("error").path("field").asText());
                assertTrue(none.headers().firstValue("WWW-Authenticate").orElse("").startsWith("Bearer"), path);
                HttpResponse<String> wrong = client.send(HttpRequest.newBuilder(URI.create(api.url(path)))
                        .header("Authorization", "Bearer " + TOKEN + "x").build(), HttpResponse.BodyHandlers.ofString());
                assertEquals(401, wrong.statusCode(), path);
                assertTrue(ApiFixture.json(wrong).path("error").path("message").asText().contains("not valid"));
            }
            HttpResponse<String> post = client.send(HttpRequest.newBuilder(URI.create(api.url("/api/v1/jobs")))
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString("{}")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(401, post.statusCode(), "auth comes before validation");
            assertEquals(200, api.get("/api/v1/jobs").statusCode(), "with the token");
            assertEquals(200, api.get("/api/v1/openapi.json").statusCode());
            HttpResponse<String> query = client.send(HttpRequest.newBuilder(URI.create(api.url(
                    "/api/v1/jobs?access_token=" + TOKEN))).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(401, query.statusCode(), "a token in the query only for the event stream");
            assertEquals("access_token", ApiFixture.json(query).path("error").path("field").asText());
            HttpResponse<String> queryPost = client.send(HttpRequest.newBuilder(URI.create(api.url(
                    "/api/v1/jobs/x/cancel?access_token=" + TOKEN))).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{}")).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(401, queryPost.statusCode(), "never on a state-changing route");
            assertEquals("access_token", ApiFixture.json(queryPost).path("error").path("field").asText());
            HttpResponse<String> stream = client.send(HttpRequest.newBuilder(URI.create(api.url(
                    "/api/v1/jobs/no-such-job/events?access_token=" + TOKEN))).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(404, stream.statusCode(), "the event stream takes it (EventSource cannot set headers)");
            assertEquals("id", ApiFixture.json(stream).path("error").path("field").asText());
            for (String open : new String[] {"/health", "/ready", "/metrics", "/"}) {
                HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(api.url(open))).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertEquals(200, r.statusCode(), open + " is open");
            }
        }
    }

    @Test
    void aNetworkAddressInPlainHttpRefusesToStartUnlessAllowed() {
        HttpSettings open = HttpSettings.fromConfig(ConfigFactory.load()).listening("0.0.0.0", 0).withToken(TOKEN);
        InvalidInputException e = assertThrows(InvalidInputException.class, open::checkExposure);
        assertEquals("blockferry.http.tls.enabled", e.field());
        assertTrue(e.getMessage().contains("blockferry.http.allow-plaintext"), e.getMessage());
        settings(Map.of("blockferry.http.allow-plaintext", "true")).listening("0.0.0.0", 0).checkExposure();
        HttpSettings.fromConfig(ConfigFactory.load()).listening("127.0.0.1", 0).checkExposure();
        InvalidInputException shortToken = assertThrows(InvalidInputException.class,
                () -> settings(Map.of("blockferry.http.token", "short")));
        assertEquals("blockferry.http.token", shortToken.field());
        InvalidInputException fewConnections = assertThrows(InvalidInputException.class,
                () -> settings(Map.of("blockferry.http.max-connections", "1000")));
        assertEquals("blockferry.http.max-connections", fewConnections.field(), "streams must leave room for the API");
    }

    @Test
    void withoutAConfiguredTokenServeGeneratesOneIntoTheDataDirAndReusesIt() throws Exception {
        Path dataDir = TestPeers.scratchDirectory("api-token-").resolve("data");
        ApiToken first = ApiToken.inDataDir(dataDir);
        assertTrue(first.generated());
        assertEquals(dataDir.resolve("api-token").toAbsolutePath(), first.file());
        assertTrue(first.value().matches("[A-Za-z0-9_-]{43}"), "32 random bytes, base64url: " + first.value().length());
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(first.file())));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dataDir)));
        assertEquals(first.value(), Files.readString(first.file()).trim());
        assertFalse(first.toString().contains(first.value()), "toString names the file, never the token");

        ApiToken again = ApiToken.inDataDir(dataDir);
        assertFalse(again.generated(), "the next start reads it");
        assertEquals(first.value(), again.value());

        Files.setPosixFilePermissions(first.file(), PosixFilePermissions.fromString("rw-r--r--"));
        InvalidInputException open = assertThrows(InvalidInputException.class, () -> ApiToken.inDataDir(dataDir));
        assertTrue(open.getMessage().contains("may be read by other users"), open.getMessage());
        assertFalse(open.getMessage().contains(first.value()));
        Files.delete(first.file());
        assertNotEquals(first.value(), ApiToken.inDataDir(dataDir).value(), "a removed file: a new token");

        HttpSettings none = HttpSettings.fromConfig(ConfigFactory.load()).listening("127.0.0.1", 0);
        assertNull(none.token());
        InvalidInputException refused = assertThrows(InvalidInputException.class, () -> ApiServer.start(null, none));
        assertEquals("blockferry.http.token", refused.field(), "the server never starts without a token");
        assertFalse(none.withToken(first.value()).toString().contains(first.value()), "settings never show it");
    }

    @Test
    void theFixtureWithoutATokenUsesARandomOneAndTheApiRequiresIt() throws Exception {
        Path dir = TestPeers.scratchDirectory("api-open-");
        try (ApiFixture api = ApiFixture.start(dir, TestDatabases.Kind.H2, null, Map.of())) {
            assertTrue(api.token.length() >= 16, api.token);
            assertEquals(401, api.send(api.anonymous("/api/v1/jobs").build()).statusCode());
            assertEquals(200, api.get("/api/v1/jobs").statusCode());
            assertEquals("ready", ApiFixture.json(api.get("/ready")).path("status").asText());
        }
    }

    @Test
    void readyTellsAnyoneTheDatabaseIsUnavailableAndOnlyTheLogWhy() throws Exception {
        Path dir = TestPeers.scratchDirectory("api-ready-");
        try (ApiFixture api = ApiFixture.start(dir, TestDatabases.Kind.H2, null, Map.of())) {
            List<java.sql.Connection> held = new ArrayList<>();
            try {
                for (int i = 0; i < 4; i++) { // the read side's whole pool (pool-size 4)
                    held.add(api.node.database().dataSource().getConnection());
                }
                HttpResponse<String> r = api.send(api.anonymous("/ready").build());
                assertEquals(503, r.statusCode(), r.body());
                JsonNode body = ApiFixture.json(r);
                assertEquals("unavailable", body.path("status").asText());
                assertEquals("database unavailable", body.path("error").path("message").asText());
                for (String internal : new String[] {"Connection", "timed out", "blockferry-readside", "SQL", "Hikari"}) {
                    assertFalse(r.body().contains(internal), "no exception text: " + r.body());
                }
            } finally {
                for (java.sql.Connection c : held) {
                    c.close();
                }
            }
            assertEquals(200, api.get("/ready").statusCode());
        }
    }

    @Test
    void aLoopbackServerAnswersOnlyToLoopbackNames() throws Exception {
        Path dir = TestPeers.scratchDirectory("api-host-");
        try (ApiFixture api = ApiFixture.start(dir, TestDatabases.Kind.H2, null, Map.of())) {
            for (String host : new String[] {"localhost", "localhost:8080", "127.0.0.1", "127.0.0.1:" + api.server.port(),
                "[::1]", "[::1]:1234", "LOCALHOST"}) {
                assertEquals(200, health(api, host).status(), host);
            }
            for (String host : new String[] {"evil.example", "localhost.evil.example", "127.0.0.2", "[::2]"}) {
                RawHttp.Response r = health(api, host);
                assertEquals(421, r.status(), host + ": " + r.body());
                assertEquals("Host", ApiFixture.JSON.readTree(r.body()).path("error").path("field").asText());
            }
        }
    }

    @Test
    void aNetworkBindAnswersToTheMachinesNamesOrTheConfiguredOnes() throws Exception {
        HostCheck machine = HostCheck.of(settings(Map.of("blockferry.http.allow-plaintext", "true"))
                .listening("0.0.0.0", 0));
        assertTrue(machine.allows("localhost") && machine.allows("127.0.0.1"), machine.names().toString());
        String hostname = java.net.InetAddress.getLocalHost().getHostName();
        assertTrue(machine.allows(hostname), machine.names().toString());
        assertFalse(machine.allows("evil.example"));
        assertFalse(machine.allows(""), "no Host, no answer");

        HostCheck listed = HostCheck.of(settings(Map.of("blockferry.http.allow-plaintext", "true",
                "blockferry.http.allowed-hosts", List.of("vma01.example.org", "192.0.2.10"))).listening("0.0.0.0", 0));
        assertTrue(listed.allows("VMA01.example.org.") && listed.allows("192.0.2.10"), listed.names().toString());
        assertFalse(listed.allows("localhost"), "only what the operator listed");
        assertFalse(listed.allows(hostname));

        HostCheck fromEnvironment = HostCheck.of(settings(Map.of("blockferry.http.allow-plaintext", "true",
                "blockferry.http.allowed-hosts", "vma01.example.org, [2001:db8::1]")).listening("0.0.0.0", 0));
        assertTrue(fromEnvironment.allows("vma01.example.org") && fromEnvironment.allows("[2001:db8:0::1]"),
                "BLOCKFERRY_HTTP_ALLOWED_HOSTS: comma-separated " + fromEnvironment.names());
    }

    private static HttpSettings settings(Map<String, Object> overrides) {
        return HttpSettings.fromConfig(ConfigFactory.parseMap(overrides).withFallback(ConfigFactory.load()));
    }

    private static RawHttp.Response health(ApiFixture api, String host) throws Exception {
        return RawHttp.exchange(api.server.port(), "GET /health HTTP/1.1\r\nHost: " + host, null, Duration.ofSeconds(10));
    }

    @Test
    void httpsWithAKeyStore() throws Exception {
        Path dir = TestPeers.scratchDirectory("api-tls-");
        Path store = dir.resolve("server.p12");
        Process keytool = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "keytool").toString(),
                "-genkeypair", "-alias", "blockferry", "-keyalg", "EC", "-groupname", "secp256r1", "-validity", "2",
                "-dname", "CN=127.0.0.1", "-ext", "SAN=IP:127.0.0.1", "-storetype", "PKCS12", "-keystore",
                store.toString(), "-storepass", "changeit", "-keypass", "changeit").redirectErrorStream(true).start();
        String out = new String(keytool.getInputStream().readAllBytes());
        assertEquals(0, keytool.waitFor(), out);
        Files.writeString(dir.resolve("pw"), "changeit\n");
        Map<String, Object> tls = Map.of("blockferry.http.tls.enabled", "true",
                "blockferry.http.tls.key-store", store.toString(),
                "blockferry.http.tls.key-store-password-file", dir.resolve("pw").toString());
        try (ApiFixture api = ApiFixture.start(dir, TestDatabases.Kind.H2, null, tls)) {
            assertTrue(api.server.url().startsWith("https://"), api.server.url());
            KeyStore trust = KeyStore.getInstance("PKCS12");
            try (InputStream in = Files.newInputStream(store)) {
                trust.load(in, "changeit".toCharArray());
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trust);
            SSLContext ssl = SSLContext.getInstance("TLS");
            ssl.init(null, tmf.getTrustManagers(), null);
            HttpClient client = HttpClient.newBuilder().sslContext(ssl).connectTimeout(Duration.ofSeconds(10)).build();
            HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(api.url("/api/v1/jobs")))
                    .header("Authorization", "Bearer " + api.token).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode(), r.body());
        }
    }
}
