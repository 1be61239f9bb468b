package org.blockferry.api.http;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.endpoint.SecretFile;

/**
 * The HTTP server's settings ({@code blockferry.http}), checked: where it listens, the API's
 * bearer token, TLS, body limit and the event stream's pace.
 *
 * @param token the bearer token every {@code /api} request must present, or {@code null} for none
 * @param tls   the key store for HTTPS, or {@code null} for plain HTTP
 */
public record HttpSettings(String host, int port, String token, long maxBodyBytes, Duration progressEvery,
                           Duration heartbeat, Tls tls) {
    static final int MIN_TOKEN_LENGTH = 16;

    /** A PKCS#12 (or JKS) key store holding the server's key and certificate chain. */
    public record Tls(Path keyStore, String type, char[] password) {
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
        if (token != null && token.length() < MIN_TOKEN_LENGTH) {
            throw new InvalidInputException("blockferry.http.token", "is " + token.length() + " characters long; use at"
                    + " least " + MIN_TOKEN_LENGTH + " (e.g. openssl rand -hex 32)");
        }
        long maxBody = bytes(c, "max-body");
        if (maxBody < 1024) {
            throw new InvalidInputException("blockferry.http.max-body", "must be at least 1KiB, got " + maxBody);
        }
        Duration progress = duration(c, "sse.progress-every");
        Duration heartbeat = duration(c, "sse.heartbeat");
        Tls tls = null;
        if (c.getBoolean("tls.enabled")) {
            String store = c.getString("tls.key-store").trim();
            if (store.isEmpty()) {
                throw new InvalidInputException("blockferry.http.tls.key-store", "is required when TLS is enabled");
            }
            Path path = Path.of(store);
            if (!Files.isReadable(path)) {
                throw new InvalidInputException("blockferry.http.tls.key-store", store + " is not a readable file");
            }
            String password = secret(c, "tls.key-store-password", "tls.key-store-password-file");
            tls = new Tls(path, c.getString("tls.key-store-type"), password == null ? new char[0]
                    : password.toCharArray());
        }
        return new HttpSettings(host, port, token, maxBody, progress, heartbeat, tls);
    }

    /** The same settings listening elsewhere (the {@code serve} command's flags). */
    public HttpSettings listening(String newHost, Integer newPort) {
        return new HttpSettings(newHost == null ? host : newHost, newPort == null ? port : newPort, token,
                maxBodyBytes, progressEvery, heartbeat, tls);
    }

    public HttpSettings withToken(String newToken) {
        return new HttpSettings(host, port, newToken, maxBodyBytes, progressEvery, heartbeat, tls);
    }

    /**
     * Refuses an API open to the network without a token: a non-loopback address needs one.
     */
    public void checkExposure() {
        if (token != null) {
            return;
        }
        boolean loopback;
        try {
            InetAddress[] all = InetAddress.getAllByName(host);
            loopback = List.of(all).stream().allMatch(InetAddress::isLoopbackAddress);
        } catch (UnknownHostException e) {
            throw new InvalidInputException("blockferry.http.interface", "'" + host + "' does not resolve");
        }
        if (!loopback) {
            throw new InvalidInputException("blockferry.http.interface", "'" + host + "' is not a loopback address"
                    + " and no API token is set: refusing to serve the API to the network without authentication"
                    + " (set BLOCKFERRY_API_TOKEN or blockferry.http.token-file, or bind 127.0.0.1)");
        }
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
                throw new InvalidInputException("blockferry.http." + fileKey, "cannot read " + file + ": " + e.getMessage());
            }
        }
        return inline.isEmpty() ? null : inline;
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
