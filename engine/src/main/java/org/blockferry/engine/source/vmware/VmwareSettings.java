package org.blockferry.engine.source.vmware;

import com.typesafe.config.Config;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.blockferry.engine.endpoint.InvalidInputException;

/**
 * {@code blockferry.vmware.*}: the cutover's wait for a guest shutdown and the VDDK data path.
 *
 * @param shutdownTimeout how long a final sync waits for the guest to power off before a hard power-off
 * @param vddkPlugin      nbdkit's plugin and its leading arguments: {@code [vddk]}, or {@code [sh, SCRIPT]}
 * @param vddkLibdir      the VDDK directory ({@code vmware-vix-disklib-distrib}); null when not set
 * @param vddkTransports  VDDK transport modes in order of preference; empty: VDDK's own order
 * @param snapshotCleanupTimeout how long a snapshot removal that failed is retried in the background
 */
public record VmwareSettings(Duration shutdownTimeout, List<String> vddkPlugin, Path vddkLibdir,
                             List<String> vddkTransports, Duration snapshotCleanupTimeout) {
    static final Set<String> TRANSPORTS = Set.of("file", "san", "hotadd", "nbd", "nbdssl");

    public VmwareSettings {
        vddkPlugin = List.copyOf(vddkPlugin);
        vddkTransports = List.copyOf(vddkTransports);
    }

    /** The defaults of reference.conf: 5 minutes, plugin vddk, no libdir, cleanup retried for 30 minutes. */
    public static VmwareSettings defaults() {
        return new VmwareSettings(Duration.ofMinutes(5), List.of("vddk"), null, List.of(), Duration.ofMinutes(30));
    }

    /** Reads and checks {@code blockferry.vmware}; a bad value is an error naming its key. */
    public static VmwareSettings fromConfig(Config config) {
        if (!config.hasPath("blockferry.vmware")) {
            return defaults();
        }
        Config c = config.getConfig("blockferry.vmware");
        String prefix = "blockferry.vmware.";
        Duration timeout = duration(c, prefix, "shutdown-timeout", Duration.ofMinutes(5));
        Duration cleanup = duration(c, prefix, "snapshot-cleanup-timeout", Duration.ofMinutes(30));
        String plugin = c.hasPath("vddk.plugin") ? c.getString("vddk.plugin").trim() : "vddk";
        String libdir = c.hasPath("vddk.libdir") ? c.getString("vddk.libdir").trim() : "";
        String transports = c.hasPath("vddk.transports") ? c.getString("vddk.transports").trim() : "";
        return new VmwareSettings(timeout, plugin(prefix + "vddk.plugin", plugin),
                libdir.isEmpty() ? null : absolute(prefix + "vddk.libdir", libdir),
                transports(prefix + "vddk.transports", transports), cleanup);
    }

    private static Duration duration(Config c, String prefix, String key, Duration fallback) {
        Duration d = c.hasPath(key) ? c.getDuration(key) : fallback;
        if (d.isNegative()) {
            throw new InvalidInputException(prefix + key, "must not be negative, got " + d);
        }
        return d;
    }

    /**
     * {@code vddk} (nbdkit-vddk-plugin), a plugin's .so path, or the path of a script for
     * nbdkit's sh plugin taking the same parameters (it starts with {@code #!}).
     */
    private static List<String> plugin(String key, String value) {
        if (value.isEmpty()) {
            throw new InvalidInputException(key, "is empty; the default is vddk");
        }
        if (!value.contains("/")) {
            return List.of(value);
        }
        Path path = absolute(key, value);
        if (!Files.isRegularFile(path)) {
            throw new InvalidInputException(key, value + " is not a file");
        }
        byte[] head = new byte[2];
        try (InputStream in = Files.newInputStream(path)) {
            int n = in.readNBytes(head, 0, 2);
            return n == 2 && head[0] == '#' && head[1] == '!' ? List.of("sh", path.toString()) : List.of(path.toString());
        } catch (IOException e) {
            throw new InvalidInputException(key, "cannot read " + value + ": " + e.getMessage());
        }
    }

    private static Path absolute(String key, String value) {
        Path path = Path.of(value);
        if (!path.isAbsolute()) {
            throw new InvalidInputException(key, "'" + value + "' must be an absolute path");
        }
        return path;
    }

    private static List<String> transports(String key, String value) {
        if (value.isEmpty()) {
            return List.of();
        }
        List<String> modes = Arrays.asList(value.split(":"));
        for (String mode : modes) {
            if (!TRANSPORTS.contains(mode)) {
                throw new InvalidInputException(key, "unknown transport '" + mode + "' in '" + value
                        + "' (use any of file, san, hotadd, nbdssl, nbd joined by ':')");
            }
        }
        return modes;
    }
}
