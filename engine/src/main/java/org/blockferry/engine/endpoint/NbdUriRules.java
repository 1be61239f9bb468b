package org.blockferry.engine.endpoint;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The query options an NBD URI of a restricted job may carry, and what their values may name.
 *
 * <p>libnbd's {@code nbd_connect_uri} reads {@code socket}, {@code tls-certificates} and
 * {@code tls-psk-file} (1.14, installed here), and newer releases also {@code tls-hostname} and
 * {@code tls-verify-peer}; it ignores the rest. Only those five are accepted. The two TLS file
 * options must name a file (or, for certificates, a directory) in the node's NBD key directory
 * ({@code blockferry.nbd.key-dir}); {@code tls-verify-peer=false} needs
 * {@code blockferry.nbd.allow-unverified-tls}; a {@code socket} is an NBD server's, not storage,
 * and may be anywhere but in the node's data directory or its own private export directories.
 *
 * <p>Queries are read the way libnbd reads them (names and values percent-decoded, {@code +} is
 * a plus), and anything libnbd could read differently from this class is refused: {@code ;}
 * separators, a repeated option, an empty name, a malformed escape, a NUL.
 */
final class NbdUriRules {
    static final List<String> ALLOWED = List.of("socket", "tls-certificates", "tls-psk-file", "tls-verify-peer",
            "tls-hostname");
    private static final List<String> TRUE = List.of("true", "1", "yes", "on");
    private static final List<String> FALSE = List.of("false", "0", "no", "off");

    private NbdUriRules() {
    }

    static void check(StoragePolicy policy, String field, String text) {
        String rawQuery;
        try {
            rawQuery = new URI(text).getRawQuery();
        } catch (URISyntaxException e) {
            throw new InvalidInputException(field, "'" + text + "' is not a valid URI: " + e.getReason());
        }
        for (Map.Entry<String, String> option : options(field, rawQuery).entrySet()) {
            String value = option.getValue();
            switch (option.getKey()) {
                case "socket" -> socket(policy, field, value);
                case "tls-psk-file" -> keyFile(policy, field, "tls-psk-file", value, false);
                case "tls-certificates" -> keyFile(policy, field, "tls-certificates", value, true);
                case "tls-verify-peer" -> verifyPeer(policy, field, value);
                case "tls-hostname" -> {
                    // which name the server's certificate must carry: any name is safe
                }
                default -> throw new InvalidInputException(field, "the NBD URI option '" + option.getKey()
                        + "' is not allowed on this node (allowed: " + String.join(", ", ALLOWED) + ")");
            }
        }
    }

    /** The options of {@code rawQuery}, decoded as libnbd decodes them; refuses what it could read otherwise. */
    static Map<String, String> options(String field, String rawQuery) {
        Map<String, String> options = new LinkedHashMap<>();
        if (rawQuery == null || rawQuery.isEmpty()) {
            return options;
        }
        if (rawQuery.indexOf(';') >= 0) {
            throw new InvalidInputException(field, "the NBD URI's query uses ';': separate options with '&'");
        }
        for (String part : rawQuery.split("&")) {
            if (part.isEmpty()) {
                continue;
            }
            int eq = part.indexOf('=');
            String name = decode(field, eq < 0 ? part : part.substring(0, eq));
            String value = eq < 0 ? "" : decode(field, part.substring(eq + 1));
            if (name.isEmpty()) {
                throw new InvalidInputException(field, "the NBD URI's query has an option without a name");
            }
            if (options.put(name, value) != null) {
                throw new InvalidInputException(field, "the NBD URI option '" + name + "' is given twice");
            }
        }
        return options;
    }

    private static void socket(StoragePolicy policy, String field, String value) {
        Path socket = absolute(field, "socket", value);
        Path real = RealPath.bestEffort(socket);
        if (policy.dataDir() != null && real.startsWith(RealPath.bestEffort(policy.dataDir()))) {
            throw new InvalidInputException(field, "socket=" + value + " is in this node's data directory: the node's"
                    + " own files are not NBD servers a job may use");
        }
        Path exports = policy.exportRoot() == null ? null : RealPath.bestEffort(policy.exportRoot());
        if (exports != null && real.startsWith(exports) && real.getNameCount() > exports.getNameCount()
                && real.getName(exports.getNameCount()).toString().startsWith("bf-")) {
            throw new InvalidInputException(field, "socket=" + value + " is a private export socket of a BlockFerry"
                    + " process: jobs may not use another job's exports");
        }
    }

    private static void keyFile(StoragePolicy policy, String field, String option, String value, boolean directory) {
        Path file = absolute(field, option, value);
        Path keys = RealPath.bestEffort(policy.keyDir());
        RealPath resolved;
        try {
            resolved = RealPath.of(file);
        } catch (IOException e) {
            resolved = new RealPath(file.toAbsolutePath().normalize(), false, false);
        }
        if (!resolved.real().startsWith(keys) || (resolved.real().equals(keys) && !directory)) {
            throw new InvalidInputException(field, option + "=" + value + " is outside this node's NBD key directory ("
                    + policy.keyDir() + "); see blockferry.nbd.key-dir");
        }
        if (!resolved.exists()) {
            throw new InvalidInputException(field, option + "=" + value + " does not exist in the NBD key directory");
        }
        if (directory ? !Files.isDirectory(resolved.real()) : !Files.isRegularFile(resolved.real())) {
            throw new InvalidInputException(field, option + "=" + value + " is not a " + (directory ? "directory"
                    : "regular file"));
        }
    }

    private static void verifyPeer(StoragePolicy policy, String field, String value) {
        String v = value.toLowerCase(Locale.ROOT);
        if (TRUE.contains(v)) {
            return;
        }
        if (!FALSE.contains(v)) {
            throw new InvalidInputException(field, "tls-verify-peer=" + value + " is neither true nor false");
        }
        if (!policy.allowUnverifiedTls()) {
            throw new InvalidInputException(field, "tls-verify-peer=" + value + " turns off the check of the NBD"
                    + " server's certificate, which this node refuses (blockferry.nbd.allow-unverified-tls = false)");
        }
    }

    private static Path absolute(String field, String option, String value) {
        if (value.isEmpty() || value.indexOf('\0') >= 0 || !value.startsWith("/")) {
            throw new InvalidInputException(field, option + "=" + value + " must be an absolute path");
        }
        return Path.of(value).normalize();
    }

    /** Percent-decoding as libxml2's does it for libnbd: {@code %XX} only, {@code +} stays a plus. */
    private static String decode(String field, String s) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c != '%') {
                out.writeBytes(String.valueOf(c).getBytes(StandardCharsets.UTF_8));
                continue;
            }
            int hi = i + 2 < s.length() ? Character.digit(s.charAt(i + 1), 16) : -1;
            int lo = hi >= 0 ? Character.digit(s.charAt(i + 2), 16) : -1;
            if (hi < 0 || lo < 0) {
                throw new InvalidInputException(field, "the NBD URI's query has a malformed escape near '"
                        + s.substring(i, Math.min(s.length(), i + 3)) + "'");
            }
            int b = hi * 16 + lo;
            if (b == 0) {
                throw new InvalidInputException(field, "the NBD URI's query contains a NUL character");
            }
            out.write(b);
            i += 2;
        }
        return out.toString(StandardCharsets.UTF_8);
    }
}
