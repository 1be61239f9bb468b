package org.blockferry.api.http;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.InputStream;
import java.nio.file.Files;
import java.security.KeyStore;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.apache.pekko.http.javadsl.ConnectionContext;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.ServerBuilder;
import org.apache.pekko.http.javadsl.settings.ServerSettings;
import org.blockferry.api.node.Node;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** BlockFerry's HTTP server on a running node: the API, the page, the probes. */
public final class ApiServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ApiServer.class);
    /** The name Pekko gives a request without Host: no server answers to it. */
    static final String MISSING_HOST = "missing-host.invalid";

    private final ServerBinding binding;
    private final ApiMetrics metrics;
    private final boolean https;

    private ApiServer(ServerBinding binding, ApiMetrics metrics, boolean https) {
        this.binding = binding;
        this.metrics = metrics;
        this.https = https;
    }

    /**
     * Binds the server. Refuses settings without a token (the API always needs one; {@code serve}
     * fills it in with {@link ApiToken}) and a non-loopback address in plain HTTP unless allowed.
     */
    public static ApiServer start(Node node, HttpSettings settings) throws Exception {
        if (settings.token() == null) {
            throw new InvalidInputException("blockferry.http.token", "is not set: the API always needs a token"
                    + " (blockferry serve generates one into DATA_DIR/" + ApiToken.FILE_NAME + ")");
        }
        settings.checkExposure();
        HostCheck hosts = HostCheck.of(settings);
        ApiMetrics metrics = new ApiMetrics(node.queries());
        try {
            JobEventStream events = new JobEventStream(node.system(), settings.sse().progressEvery(),
                    settings.sse().heartbeat());
            ApiRoutes routes = new ApiRoutes(node, settings, hosts, events, metrics);
            ServerBuilder builder = Http.get(node.system()).newServerAt(settings.host(), settings.port())
                    .withSettings(serverSettings(node, settings));
            if (settings.tls() != null) {
                builder = builder.enableHttps(ConnectionContext.httpsServer(sslContext(settings.tls())));
            }
            ServerBinding binding = builder.bind(routes.routes()).toCompletableFuture().get(30, TimeUnit.SECONDS);
            ApiServer server = new ApiServer(binding, metrics, settings.tls() != null);
            log.info("event=http-started url={} hosts={}", server.url(), hosts.any() ? "*" : hosts.names());
            return server;
        } catch (Exception e) {
            metrics.close();
            throw e;
        }
    }

    /**
     * Pekko's server settings, with our connection limit; a request without Host goes on to the
     * Host check (a JSON 421) rather than Pekko's plain 400; and a request Pekko cannot parse is
     * logged in one line without its details, which can hold a query's token.
     */
    private static ServerSettings serverSettings(Node node, HttpSettings settings) {
        Config config = ConfigFactory.parseMap(Map.of(
                "pekko.http.server.default-host-header", MISSING_HOST,
                "pekko.http.server.parsing.error-logging-verbosity", "simple"))
                .withFallback(node.system().settings().config());
        return ServerSettings.create(config).withMaxConnections(settings.limits().maxConnections());
    }

    private static SSLContext sslContext(HttpSettings.Tls tls) throws Exception {
        KeyStore store = KeyStore.getInstance(tls.type());
        try (InputStream in = Files.newInputStream(tls.keyStore())) {
            store.load(in, tls.password());
        } catch (Exception e) {
            throw new InvalidInputException("blockferry.http.tls.key-store",
                    "cannot load " + tls.keyStore() + " as " + tls.type() + ": " + e.getMessage());
        }
        KeyManagerFactory keys = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        keys.init(store, tls.password());
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(keys.getKeyManagers(), null, null);
        return context;
    }

    public int port() {
        return binding.localAddress().getPort();
    }

    /** Where the server answers, e.g. {@code http://127.0.0.1:8080}. */
    public String url() {
        var address = binding.localAddress();
        String host = address.getAddress().getHostAddress();
        if (host.contains(":")) {
            host = "[" + host + "]";
        }
        return (https ? "https" : "http") + "://" + host + ":" + address.getPort();
    }

    @Override
    public void close() {
        try {
            binding.terminate(Duration.ofSeconds(5)).toCompletableFuture().get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            log.warn("event=http-stop-slow error={}", e.toString());
        }
        metrics.close();
    }
}
