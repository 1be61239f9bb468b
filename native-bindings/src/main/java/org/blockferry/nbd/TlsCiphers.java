package org.blockferry.nbd;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Which cipher the NBD client asks for when it speaks TLS.
 *
 * <p>libnbd gives GnuTLS the fixed priority string {@code NORMAL}; on many CPUs (this project's
 * bench machine among them) that makes CHACHA20-POLY1305 the first choice, which moves about a
 * fifth of what AES-GCM moves on a CPU with AES instructions. libnbd offers no priority setting,
 * so the only lever is GnuTLS's system-wide configuration, read once when the library loads:
 * {@link #AES_GCM} points {@code GNUTLS_SYSTEM_PRIORITY_FILE} at a file whose {@code [overrides]}
 * take CHACHA20-POLY1305 out of what this process offers. TLS 1.3 servers must implement
 * AES-128-GCM (RFC 8446, 9.1), so only a server that allows nothing but ChaCha20 then refuses us.
 */
public enum TlsCiphers {
    /** {@link #AES_GCM} when the CPU has AES instructions and no system GnuTLS policy is in place. */
    AUTO,
    /** Never offer CHACHA20-POLY1305, so that an AES suite is negotiated. */
    AES_GCM,
    /** GnuTLS's own order, as libnbd leaves it. */
    GNUTLS_DEFAULT;

    static final String ENV = "GNUTLS_SYSTEM_PRIORITY_FILE";
    static final Path SYSTEM_FILE = Path.of("/etc/gnutls/config");
    static final String OVERRIDE = "\n[overrides]\ntls-disabled-cipher = CHACHA20-POLY1305\n";

    /** The configuration's spelling: {@code auto}, {@code aes-gcm}, {@code gnutls-default}. */
    public String configName() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /** The value for a configuration spelling, or null when it is none of them. */
    public static TlsCiphers fromConfigName(String value) {
        for (TlsCiphers c : values()) {
            if (c.configName().equals(value)) {
                return c;
            }
        }
        return null;
    }

    /** What applying this preference would do here: a policy file's text, or null for nothing. */
    String overrideFileText(String envFile, boolean cpuHasAes) {
        Path system = envFile != null && !envFile.isEmpty() ? Path.of(envFile)
                : Files.exists(SYSTEM_FILE) ? SYSTEM_FILE : null; // the policy in place, if any
        return switch (this) {
            case GNUTLS_DEFAULT -> null;
            case AUTO -> cpuHasAes && system == null ? OVERRIDE : null;
            case AES_GCM -> (system != null ? readOrEmpty(system) : "") + OVERRIDE;
        };
    }

    private static String readOrEmpty(Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }

    /** Whether /proc/cpuinfo lists the {@code aes} flag (x86 "flags", arm64 "Features"). */
    static boolean cpuHasAes() {
        try (var lines = Files.lines(Path.of("/proc/cpuinfo"), StandardCharsets.ISO_8859_1)) {
            return lines.filter(l -> l.startsWith("flags") || l.startsWith("Features"))
                    .findFirst()
                    .map(l -> (" " + l.substring(l.indexOf(':') + 1) + " ").contains(" aes "))
                    .orElse(false);
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }
}
