package org.blockferry.api.node;

import com.typesafe.config.Config;
import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.endpoint.SecretFile;

/**
 * Cluster traffic (Pekko Artery) over TLS with mutual authentication: every member presents a
 * certificate the others trust, so a process without the cluster's key can neither join nor send
 * a message. Required whenever the node's cluster hostname is not a loopback address
 * ({@code blockferry.cluster.tls.enabled = auto}); {@code on} forces it on loopback too.
 */
final class ClusterTls {
    private static final String KEY = "blockferry.cluster.tls.";
    private static final String SSL = "pekko.remote.artery.ssl.config-ssl-engine.";

    private ClusterTls() {
    }

    /** The Pekko settings for the cluster's transport: plain TCP on loopback, TLS otherwise. */
    static Map<String, Object> settings(Config config) {
        Config c = config.getConfig("blockferry.cluster");
        String enabled = c.getString("tls.enabled").trim().toLowerCase(Locale.ROOT);
        String hostname = c.getString("hostname");
        boolean loopback = loopback(hostname);
        boolean tls = switch (enabled) {
            case "auto" -> !loopback;
            case "on" -> true;
            case "off" -> {
                if (!loopback) {
                    throw new InvalidInputException(KEY + "enabled", "off is only allowed for a node whose"
                            + " blockferry.cluster.hostname is a loopback address, not '" + hostname + "': cluster"
                            + " traffic off this machine must be authenticated and encrypted");
                }
                yield false;
            }
            default -> throw new InvalidInputException(KEY + "enabled", "'" + enabled + "' must be auto, on or off");
        };
        Map<String, Object> m = new HashMap<>();
        if (!tls) {
            return m;
        }
        m.put("pekko.remote.artery.transport", "tls-tcp");
        m.put(SSL + "key-store", store(c, "key-store", hostname));
        String keyPassword = password(c, "key-store-password-file");
        m.put(SSL + "key-store-password", keyPassword);
        m.put(SSL + "key-password", keyPassword);
        m.put(SSL + "trust-store", store(c, "trust-store", hostname));
        m.put(SSL + "trust-store-password", password(c, "trust-store-password-file"));
        m.put(SSL + "require-mutual-authentication", "on");
        m.put(SSL + "protocol", "TLSv1.3");
        return m;
    }

    static boolean loopback(String hostname) {
        try {
            return InetAddress.getByName(hostname).isLoopbackAddress();
        } catch (UnknownHostException e) {
            throw new InvalidInputException("blockferry.cluster.hostname", "'" + hostname + "' does not resolve");
        }
    }

    private static String store(Config c, String key, String hostname) {
        String file = c.getString("tls." + key);
        if (file.isBlank()) {
            throw new InvalidInputException(KEY + key, "is not set: cluster traffic of a node on '" + hostname
                    + "' goes over TLS with mutual authentication; give a PKCS12 key store with this node's key and"
                    + " certificate (key-store) and one with the certificates the cluster trusts (trust-store)");
        }
        if (!Files.isReadable(Path.of(file))) {
            throw new InvalidInputException(KEY + key, file + " is not a readable file");
        }
        return file;
    }

    private static String password(Config c, String key) {
        String file = c.getString("tls." + key);
        if (file.isBlank()) {
            throw new InvalidInputException(KEY + key, "is not set: the store's password goes in a file (first"
                    + " line), never in the configuration");
        }
        try {
            return SecretFile.firstLine(Path.of(file)).strip();
        } catch (IOException e) {
            throw new InvalidInputException(KEY + key, "cannot read " + file + ": " + e.getMessage());
        }
    }
}
