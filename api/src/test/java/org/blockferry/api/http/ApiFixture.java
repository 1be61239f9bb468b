package org.blockferry.api.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.blockferry.api.node.Node;
import org.blockferry.api.node.NodeFixture;
import org.blockferry.api.node.NodeHttp;
import org.blockferry.api.node.TestDatabases;

/**
 * A real node with its HTTP server on a free loopback port, for route tests; a plain JDK HTTP
 * client beside it. Close it to stop both.
 */
public final class ApiFixture implements AutoCloseable {
    public static final ObjectMapper JSON = new ObjectMapper();

    public final Node node;
    public final ApiServer server;
    public final String token;
    public final HttpClient client;
    private final NodeHttp http;

    private ApiFixture(Node node, ApiServer server, String token) {
        this.node = node;
        this.server = server;
        this.token = token;
        this.http = new NodeHttp(server.url(), token);
        this.client = http.client;
    }

    /**
     * @param token the API token, or null for a random one (the server always requires one): the
     *              fixture keeps it in {@link #token} and {@link #request} sends it
     */
    public static ApiFixture start(Path dir, TestDatabases.Kind db, String token, Map<String, Object> overrides)
            throws Exception {
        return start(dir, TestDatabases.create(db, dir), token, overrides);
    }

    /** A node on the database {@code db}; {@code token} as above. */
    public static ApiFixture start(Path dir, org.blockferry.persistence.PersistenceSettings db, String token,
                                   Map<String, Object> overrides) throws Exception {
        String apiToken = token != null ? token : ApiToken.generate();
        Node node = NodeFixture.start(dir, db, overrides);
        try {
            HttpSettings settings = HttpSettings.fromConfig(NodeFixture.config(dir, overrides))
                    .listening("127.0.0.1", 0).withToken(apiToken);
            return new ApiFixture(node, ApiServer.start(node, settings), apiToken);
        } catch (Exception e) {
            node.close();
            throw e;
        }
    }

    public String url(String path) {
        return http.url(path);
    }

    /** A request to {@code path} carrying the token. */
    public HttpRequest.Builder request(String path) {
        return http.request(path);
    }

    /** A request to {@code path} without the token. */
    public HttpRequest.Builder anonymous(String path) {
        return http.anonymous(path);
    }

    public HttpResponse<String> send(HttpRequest request) throws Exception {
        return http.send(request);
    }

    public HttpResponse<String> get(String path) throws Exception {
        return http.get(path);
    }

    public HttpResponse<String> postJson(String path, String body) throws Exception {
        return http.postJson(path, body);
    }

    /** {@code POST path/cancel} as a client must send it: JSON ({@code {}}). */
    public HttpResponse<String> cancel(String jobId) throws Exception {
        return postJson("/api/v1/jobs/" + jobId + "/cancel", "{}");
    }

    public static JsonNode json(HttpResponse<String> response) throws Exception {
        return JSON.readTree(response.body());
    }

    /** Polls {@code GET /api/v1/jobs/{id}} until the job is final; returns its document. */
    public JsonNode awaitFinal(String jobId, Duration timeout) throws Exception {
        return http.awaitFinal(jobId, timeout, () -> "");
    }

    @Override
    public void close() {
        server.close();
        node.close();
    }
}
