package org.blockferry.api.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.util.Map;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.blockferry.api.node.TestDatabases;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.Test;

/** The bearer token on /api, the open probes, refusing the network without a token, and HTTPS. */
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
            assertEquals(200, query.statusCode(), "access_token for clients that cannot set headers");
            for (String open : new String[] {"/health", "/ready", "/metrics", "/"}) {
                HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(api.url(open))).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertEquals(200, r.statusCode(), open + " is open");
            }
        }
    }

    @Test
    void withoutATokenTheApiIsOpenOnLoopback() throws Exception {
        Path dir = TestPeers.scratchDirectory("api-open-");
        try (ApiFixture api = ApiFixture.start(dir, TestDatabases.Kind.H2, null, Map.of())) {
            HttpResponse<String> r = api.client.send(HttpRequest.newBuilder(URI.create(api.url("/api/v1/jobs")))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode());
            assertEquals("ready", ApiFixture.json(api.get("/ready")).path("status").asText());
        }
    }

    @Test
    void aNetworkAddressWithoutATokenRefusesToStart() {
        HttpSettings open = HttpSettings.fromConfig(com.typesafe.config.ConfigFactory.load()).listening("0.0.0.0", 0);
        InvalidInputException e = assertThrows(InvalidInputException.class, open::checkExposure);
        assertEquals("blockferry.http.interface", e.field());
        assertTrue(e.getMessage().contains("BLOCKFERRY_API_TOKEN"), e.getMessage());
        open.withToken(TOKEN).checkExposure(); // with a token it may
        InvalidInputException shortToken = assertThrows(InvalidInputException.class, () -> HttpSettings.fromConfig(
                com.typesafe.config.ConfigFactory.parseMap(Map.of("blockferry.http.token", "short"))
                        .withFallback(com.typesafe.config.ConfigFactory.load())));
        assertEquals("blockferry.http.token", shortToken.field());
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
            HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(api.url("/api/v1/jobs"))).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode(), r.body());
        }
    }
}
