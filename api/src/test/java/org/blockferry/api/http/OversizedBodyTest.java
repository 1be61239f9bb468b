package org.blockferry.api.http;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.blockferry.api.node.TestDatabases;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.Test;

/**
 * A client that sends a body above {@code max-body} reads its 413 every time. The node answers
 * before it has read the body; if it closed the connection with the body still unread, the
 * kernel would reset it and the client could lose the answer (CI saw "header parser received no
 * bytes"). The node reads and discards a body up to a bound before it answers and closes.
 */
class OversizedBodyTest {
    private static final int ROUNDS = 30;

    @Test
    void everyOversizedBodyGetsIts413AndTheClientGoesOn() throws Exception {
        Path dir = TestPeers.scratchDirectory("api-oversized-");
        String body = "{\"vm\": \"vm1\", \"note\": \"" + "x".repeat(2 << 20) + "\"}";
        try (ApiFixture api = ApiFixture.start(dir, TestDatabases.Kind.H2, null, Map.of())) {
            List<String> problems = new ArrayList<>();
            for (int i = 0; i < ROUNDS; i++) {
                try {
                    HttpResponse<String> r = api.postJson("/api/v1/jobs", body);
                    JsonNode error = ApiFixture.json(r).path("error");
                    if (r.statusCode() != 413 || !"body".equals(error.path("field").asText())) {
                        problems.add(i + ": " + r.statusCode() + " " + r.body());
                    }
                } catch (java.io.IOException e) {
                    problems.add(i + ": " + e);
                }
                assertEquals(200, api.get("/api/v1/jobs").statusCode(), "the list after oversized body " + i);
            }
            assertEquals(List.of(), problems);
            assertEquals(0, ApiFixture.json(api.get("/api/v1/jobs")).path("count").asInt());
        }
    }
}
