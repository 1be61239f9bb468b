package org.blockferry.api.node;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.function.Supplier;

/**
 * A node's HTTP API as a client with its bearer token sees it: requests, a job's submission and
 * its end. For nodes in the test's JVM (ApiFixture) and in processes of their own alike.
 */
public final class NodeHttp {
    public final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    private final String base;
    private final String token;

    /** {@code base}: the node's {@code http://host:port}; {@code token}: its API token. */
    public NodeHttp(String base, String token) {
        this.base = base;
        this.token = token;
    }

    public String url(String path) {
        return base + path;
    }

    /** A request to {@code path} carrying the token. */
    public HttpRequest.Builder request(String path) {
        return anonymous(path).header("Authorization", "Bearer " + token);
    }

    /** A request to {@code path} without the token. */
    public HttpRequest.Builder anonymous(String path) {
        return HttpRequest.newBuilder(URI.create(url(path))).timeout(Duration.ofSeconds(60));
    }

    public HttpResponse<String> send(HttpRequest request) throws IOException, InterruptedException {
        return client.send(request, HttpResponse.BodyHandlers.ofString());
    }

    public HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return send(request(path).GET().build());
    }

    public HttpResponse<String> postJson(String path, String json) throws IOException, InterruptedException {
        return send(request(path).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json)).build());
    }

    /**
     * Polls {@code GET /api/v1/jobs/{id}} until the job is completed, failed or cancelled; returns
     * its document. After {@code timeout} the test fails with the last document and {@code context}
     * (a process's log, say).
     */
    public JsonNode awaitFinal(String id, Duration timeout, Supplier<String> context)
            throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        JsonNode doc = null;
        while (System.nanoTime() < deadline) {
            HttpResponse<String> r = get("/api/v1/jobs/" + id);
            if (r.statusCode() == 200) { // 404 until the read side has the job
                doc = ClusterNodes.JSON.readTree(r.body());
                if (doc.path("status").asText().matches("completed|failed|cancelled")) {
                    return doc;
                }
            }
            Thread.sleep(50);
        }
        throw new AssertionError("job " + id + " did not finish within " + timeout + ": " + doc + "\n"
                + context.get());
    }
}
