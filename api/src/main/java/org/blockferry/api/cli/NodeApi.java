package org.blockferry.api.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.channels.UnresolvedAddressException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import javax.net.ssl.SSLException;
import org.blockferry.api.http.ApiToken;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.endpoint.SecretFile;

/**
 * A node's HTTP API as the command line asks it: where the node is ({@code --url}, else this
 * machine's {@code blockferry.http} settings), its API token (never from the command line, where
 * other users could read it), and every failure as one sentence saying what to do.
 */
final class NodeApi {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration TIMEOUT = Duration.ofSeconds(10);
    static final String TOKEN_HINT = "BLOCKFERRY_API_TOKEN, --token-file FILE, or the node's DATA_DIR/"
            + ApiToken.FILE_NAME;

    private final URI base;
    private final String token;
    private final HttpClient client = HttpClient.newBuilder().connectTimeout(TIMEOUT).build();

    private NodeApi(URI base, String token) {
        this.base = base;
        this.token = token;
    }

    /**
     * The node at {@code url} (null: this machine's node, from {@code blockferry.http.interface},
     * {@code port} and {@code tls.enabled}) with the token of {@code tokenFile}, else of
     * {@code blockferry.http.token-file} or {@code blockferry.http.token} (BLOCKFERRY_API_TOKEN), else
     * of {@code DATA_DIR/api-token} when it exists; without any, requests go without a token.
     */
    static NodeApi of(String url, Path tokenFile, Config config) throws IOException {
        return new NodeApi(url == null ? localNode(config) : parse(url), token(tokenFile, config));
    }

    /** The node at {@code base} (no trailing slash) with {@code token} (null: none). */
    static NodeApi at(URI base, String token) {
        return new NodeApi(base, token);
    }

    private static URI parse(String url) {
        try {
            URI uri = new URI(url.endsWith("/") ? url.substring(0, url.length() - 1) : url);
            if (uri.getScheme() == null || !(uri.getScheme().equals("http") || uri.getScheme().equals("https"))
                    || uri.getHost() == null) {
                throw new InvalidInputException("--url", "'" + url + "' is not an http:// or https:// URL of a node"
                        + " (e.g. http://127.0.0.1:8080)");
            }
            return uri;
        } catch (URISyntaxException e) {
            throw new InvalidInputException("--url", "'" + url + "' is not a URL: " + e.getReason());
        }
    }

    private static URI localNode(Config config) {
        String host = config.getString("blockferry.http.interface").trim();
        if (host.isEmpty() || host.equals("0.0.0.0")) {
            host = "127.0.0.1";
        } else if (host.equals("::") || host.equals("[::]")) {
            host = "[::1]";
        } else if (host.contains(":") && !host.startsWith("[")) {
            host = "[" + host + "]";
        }
        String scheme = config.getBoolean("blockferry.http.tls.enabled") ? "https" : "http";
        return URI.create(scheme + "://" + host + ":" + config.getInt("blockferry.http.port"));
    }

    private static String token(Path tokenFile, Config config) throws IOException {
        if (tokenFile != null) {
            return firstLine(tokenFile, "--token-file");
        }
        String configuredFile = config.getString("blockferry.http.token-file").trim();
        if (!configuredFile.isEmpty()) {
            return firstLine(Path.of(configuredFile), "blockferry.http.token-file");
        }
        String inline = config.getString("blockferry.http.token").trim();
        if (!inline.isEmpty()) {
            return inline;
        }
        Path generated = Path.of(config.getString("blockferry.data-dir")).resolve(ApiToken.FILE_NAME);
        return Files.isReadable(generated) ? firstLine(generated, "blockferry.data-dir") : null;
    }

    private static String firstLine(Path file, String field) {
        try {
            String line = SecretFile.firstLine(file).trim();
            if (line.isEmpty()) {
                throw new InvalidInputException(field, file + " is empty");
            }
            return line;
        } catch (java.nio.file.NoSuchFileException e) {
            throw new InvalidInputException(field, "cannot read " + file + ": it does not exist");
        } catch (IOException e) {
            throw new InvalidInputException(field, "cannot read " + file + ": " + e.getMessage());
        }
    }

    URI base() {
        return base;
    }

    /** {@code GET path} as JSON; any answer but 200 is an {@link IOException} naming the cause. */
    JsonNode get(String path) throws IOException, InterruptedException {
        return json(send(request(path, "application/json").GET()), 200);
    }

    /** {@code POST path} with a JSON body; any answer but {@code expected} is an {@link IOException}. */
    JsonNode post(String path, JsonNode body, int expected) throws IOException, InterruptedException {
        return json(send(request(path, "application/json").header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body)))), expected);
    }

    /**
     * {@code GET path} read to its end as text (an event stream until the node closes it, the
     * metrics); any answer but 200 is an {@link IOException}. {@link #TIMEOUT} bounds the wait for
     * the answer's start, not for its end.
     */
    String text(String path) throws IOException, InterruptedException {
        HttpResponse<String> response = send(request(path, "*/*").GET());
        if (response.statusCode() != 200) {
            json(response, 200); // says why
        }
        return response.body();
    }

    private HttpRequest.Builder request(String path, String accept) {
        HttpRequest.Builder request = HttpRequest.newBuilder(base.resolve(path)).timeout(TIMEOUT)
                .header("Accept", accept);
        if (token != null) {
            request.header("Authorization", "Bearer " + token);
        }
        return request;
    }

    private HttpResponse<String> send(HttpRequest.Builder request) throws IOException, InterruptedException {
        try {
            return client.send(request.build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new IOException("cannot reach the node at " + base + ": " + why(e)
                    + "; is 'blockferry serve' running there? (--url URL)", e);
        }
    }

    private JsonNode json(HttpResponse<String> response, int expected) throws IOException {
        JsonNode body = null;
        try {
            body = JSON.readTree(response.body());
        } catch (IOException e) {
            // not JSON: said below
        }
        if (response.statusCode() == 401) {
            throw new IOException("the node at " + base + " refused " + (token == null ? "a request without an API"
                    + " token" : "the API token") + " (401); give its token: " + TOKEN_HINT);
        }
        if (body == null || !body.isObject()) {
            throw new IOException("the node at " + base + " answered " + response.statusCode() + " without JSON: is it"
                    + " a BlockFerry node? (--url URL)");
        }
        if (response.statusCode() != expected) {
            JsonNode error = body.path("error");
            throw new IOException("the node at " + base + " answered " + response.statusCode() + ": "
                    + error.path("message").asText("(no message)"));
        }
        return body;
    }

    private static String why(IOException e) {
        Throwable cause = e;
        while (cause.getCause() != null && cause.getMessage() == null) {
            cause = cause.getCause();
        }
        if (e instanceof HttpConnectTimeoutException) {
            return "no connection within " + TIMEOUT.toSeconds() + " s";
        }
        if (e instanceof HttpTimeoutException) {
            return "no answer within " + TIMEOUT.toSeconds() + " s";
        }
        if (e instanceof ConnectException && (cause instanceof UnresolvedAddressException
                || e.getCause() instanceof UnresolvedAddressException)) {
            return "unknown host";
        }
        if (e instanceof ConnectException) {
            return "connection refused";
        }
        if (e instanceof SSLException) {
            return "TLS: " + e.getMessage() + " (the JVM must trust the node's certificate: -Djavax.net.ssl.trustStore"
                    + " in BLOCKFERRY_JAVA_OPTS)";
        }
        return cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
    }
}
