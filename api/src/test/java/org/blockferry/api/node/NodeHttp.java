package org.blockferry.api.node;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;

/** The API of one node process, with its bearer token: requests, a job's submission and its end. */
final class NodeHttp {
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final String url;
    private final String token;

    NodeHttp(String url, String token) {
        this.url = url;
        this.token = token;
    }

    HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(URI.create(url + path)).timeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + token);
    }

    HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return http.send(request(path).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> post(String path, String json) throws IOException, InterruptedException {
        return http.send(request(path).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** The job once completed, failed or cancelled; fails the test with the node's log after {@code timeout}. */
    JsonNode awaitEnded(String id, NodeProcess node, Duration timeout) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        JsonNode last = null;
        while (System.nanoTime() < deadline) {
            last = ClusterNodes.JSON.readTree(get("/api/v1/jobs/" + id).body());
            if (last.path("status").asText().matches("completed|failed|cancelled")) {
                return last;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("job " + id + " did not end within " + timeout + "; last: " + last + "\n"
                + node.log());
    }

    /** A file of {@code size} random bytes from {@code seed}. */
    static Path randomImage(Path file, int size, long seed) throws IOException {
        byte[] data = new byte[size];
        new Random(seed).nextBytes(data);
        return Files.write(file, data);
    }
}
