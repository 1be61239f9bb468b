package org.blockferry.api.http;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigValueType;
import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.endpoint.SecretFile;
import org.blockferry.engine.job.JobSpecReader;

/**
 * The HTTP server's settings ({@code blockferry.http}, and the job limits the API enforces),
 * checked: where it listens, the API's bearer token, TLS, which Host names it answers, and its
 * limits.
 *
 * @param token         the bearer token every {@code /api} request must present; {@code null} only
 *                      until {@code serve} fills it in ({@link ApiToken}): {@link ApiServer} refuses
 *                      to start without one
 * @param tls           the key store for HTTPS, or {@code null} for plain HTTP
 * @param allowedHosts  {@code blockferry.http.allowed-hosts} as configured (see {@link HostCheck})
 * @param allowPlaintext serve plain HTTP on a non-loopback address
 */
public record HttpSettings(String host, int port, String token, Tls tls, List<String> allowedHosts,
                           boolean allowPlaintext, Limits limits, Sse sse) {
    static final int MIN_TOKEN_LENGTH = 16;
    /** Connections kept free of event streams, for the API and the probes. */
    static final int CONNECTIONS_BESIDE_STREAMS = 32;

    /** A PKCS#12 (or JKS) key store holding the server's key and certificate chain. */
    public record Tls(Path keyStore, String type, char[] password) {
        @Override
        public String toString() {
            return "Tls[" + keyStore + ", " + type + "]";
        }
    }

    /**
     * What one client may ask of the node.
     *
     * @param maxBodyBytes    largest request body (413 above)
     * @param bodyTimeout     a body must have arrived within this (408 after)
     * @param maxConnections  TCP connections the server holds at once
     * @param maxDisksPerJob  disks in one job spec (400 naming {@code disks} above)
     * @param maxQueuedJobs   unfinished jobs above which submissions get 429
     */
    public record Limits(long maxBodyBytes, Duration bodyTimeout, int maxConnections, int maxDisksPerJob,
                         int maxQueuedJobs) {
    }

    /** The event stream's pace and how many may be open at once (429 above). */
    public record Sse(Duration progressEvery, Duration heartbeat, int maxConnections) {
    }

    public static HttpSettings fromConfig(Config config) {
        Config c = config.getConfig("blockferry.http");
        String host = c.getString("interface").trim();
        if (host.isEmpty()) {
            throw new InvalidInputException("blockferry.http.interface", "is empty (an address or host name)");
        }
        int port = c.getInt("port");
        if (port < 0 || port > 65535) {
            throw new InvalidInputException("blockferry.http.port", port + " is not a port (0-65535; 0 = any free port)");
        }
        String token = secret(c, "token", "token-file");
        if (token != null) {
            checkToken("blockferry.http.token", token);
        }
        List<String> allowedHosts = allowedHosts(c);
        Sse sse = new Sse(duration(c, "sse.progress-every"), duration(c, "sse.heartbeat"),
                atLeast(c, "sse.max-connections", 1));
        return new HttpSettings(host, port, token, tls(c), allowedHosts, c.getBoolean("allow-plaintext"),
                limits(config, c, sse), sse);
    }

    /** A list, or (from BLOCKFERRY_HTTP_ALLOWED_HOSTS) one string of comma-separated names. */
    private static List<String> allowedHosts(Config c) {
        List<String> names = c.getValue("allowed-hosts").valueType() == ConfigValueType.STRING
                ? List.of(c.getString("allowed-hosts").split(",", -1)) : c.getStringList("allowed-hosts");
        names = names.stream().map(String::trim).toList();
        if (names.equals(List.of(""))) {
            return List.of();
        }
        if (names.stream().anyMatch(String::isEmpty)) {
            throw new InvalidInputException("blockferry.http.allowed-hosts", "holds an empty name: " + names);
        }
        return names;
    }

    private static Limits limits(Config root, Config c, Sse sse) {
        long maxBody = bytes(c, "max-body");
        if (maxBody < 1024) {
            throw new InvalidInputException("blockferry.http.max-body", "must be at least 1KiB, got " + maxBody);
        }
        int connections = atLeast(c, "max-connections", sse.maxConnections() + CONNECTIONS_BESIDE_STREAMS);
        int maxQueued;
        try {
            maxQueued = root.getInt("blockferry.jobs.max-queued");
        } catch (ConfigException e) {
            throw new InvalidInputException("blockferry.jobs.max-queued", "must be a whole number");
        }
        if (maxQueued < 1) {
            throw new InvalidInputException("blockferry.jobs.max-queued", "must be at least 1, got " + maxQueued);
        }
        return new Limits(maxBody, duration(c, "body-timeout"), connections, JobSpecReader.maxDisks(root), maxQueued);
    }

    private static Tls tls(Config c) {
        if (!c.getBoolean("tls.enabled")) {
            return null;
        }
        String store = c.getString("tls.key-store").trim();
        if (store.isEmpty()) {
            throw new InvalidInputException("blockferry.http.tls.key-store", "is required when TLS is enabled");
        }
        Path path = Path.of(store);
        if (!Files.isReadable(path)) {
            throw new InvalidInputException("blockferry.http.tls.key-store", store + " is not a readable file");
        }
        String password = secret(c, "tls.key-store-password", "tls.key-store-password-file");
        return new Tls(path, c.getString("tls.key-store-type"), password == null ? new char[0]
                : password.toCharArray());
    }

    /** The same settings listening elsewhere (the {@code serve} command's flags). */
    public HttpSettings listening(String newHost, Integer newPort) {
        return new HttpSettings(newHost == null ? host : newHost, newPort == null ? port : newPort, token, tls,
                allowedHosts, allowPlaintext, limits, sse);
    }

    /** The same settings with the API token {@code newToken} (at least 16 characters). */
    public HttpSettings withToken(String newToken) {
        checkToken("blockferry.http.token", newToken);
        return new HttpSettings(host, port, newToken, tls, allowedHosts, allowPlaintext, limits, sse);
    }

    static void checkToken(String field, String token) {
        if (token == null || token.length() < MIN_TOKEN_LENGTH) {
            throw new InvalidInputException(field, "is " + (token == null ? 0 : token.length()) + " characters long;"
                    + " use at least " + MIN_TOKEN_LENGTH + " (e.g. openssl rand -hex 32)");
        }
    }

    /** Whether every address the interface names is a loopback address. */
    public boolean loopback() {
        try {
            return List.of(InetAddress.getAllByName(host)).stream().allMatch(InetAddress::isLoopbackAddress);
        } catch (UnknownHostException e) {
            throw new InvalidInputException("blockferry.http.interface", "'" + host + "' does not resolve");
        }
    }

    /**
     * Refuses to serve the API in plain HTTP to the network: a non-loopback address needs TLS,
     * or {@code allow-plaintext} said out loud.
     */
    public void checkExposure() {
        if (tls == null && !allowPlaintext && !loopback()) {
            throw new InvalidInputException("blockferry.http.tls.enabled", "'" + host + "' is not a loopback"
                    + " address: refusing to send the API's token and job specs over the network in plain HTTP;"
                    + " enable TLS (blockferry.http.tls.enabled, BLOCKFERRY_TLS_ENABLED), set"
                    + " blockferry.http.allow-plaintext = true (BLOCKFERRY_HTTP_ALLOW_PLAINTEXT) to accept that,"
                    + " or bind 127.0.0.1");
        }
    }

    /** Never the token. */
    @Override
    public String toString() {
        return "HttpSettings[" + host + ":" + port + ", token " + (token == null ? "unset" : "set") + ", tls "
                + tls + ", allowedHosts " + allowedHosts + ", allowPlaintext " + allowPlaintext + ", " + limits + ", "
                + sse + "]";
    }

    private static String secret(Config c, String key, String fileKey) {
        String inline = c.getString(key);
        String file = c.getString(fileKey).trim();
        if (!file.isEmpty()) {
            try {
                String first = SecretFile.firstLine(Path.of(file)).trim();
                if (first.isEmpty()) {
                    throw new InvalidInputException("blockferry.http." + fileKey, file + " is empty");
                }
                return first;
            } catch (IOException e) {
                throw new InvalidInputException("blockferry.http." + fileKey, "cannot read " + file + ": "
                        + e.getMessage());
            }
        }
        return inline.isEmpty() ? null : inline;
    }

    private static int atLeast(Config c, String key, int min) {
        int n;
        try {
            n = c.getInt(key);
        } catch (ConfigException e) {
            throw new InvalidInputException("blockferry.http." + key, "is not a whole number");
        }
        if (n < min) {
            throw new InvalidInputException("blockferry.http." + key, "must be at least " + min + ", got " + n);
        }
        return n;
    }

    private static long bytes(Config c, String key) {
        try {
            return c.getBytes(key);
        } catch (ConfigException e) {
            throw new InvalidInputException("blockferry.http." + key, "is not a size (e.g. 1MiB)");
        }
    }

    private static Duration duration(Config c, String key) {
        try {
            Duration d = c.getDuration(key);
            if (d.isNegative() || d.isZero()) {
                throw new InvalidInputException("blockferry.http." + key, "must be positive, got " + d);
            }
            return d;
        } catch (ConfigException e) {
            throw new InvalidInputException("blockferry.http." + key, "is not a duration (e.g. 2s)");
        }
    }
}
