package org.blockferry.engine.source.vmware;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.source.vmware.vim.VimClient;

/**
 * {@code blockferry.vmware.*}: the vCenters jobs may name, the cutover's wait for a guest
 * shutdown, the VDDK data path and the bound on vCenter's replies.
 *
 * @param shutdownTimeout how long a final sync waits for the guest to power off before a hard power-off
 * @param vddkPlugin      nbdkit's plugin and its leading arguments: {@code [vddk]}, or {@code [sh, SCRIPT]}
 * @param vddkLibdir      the VDDK directory ({@code vmware-vix-disklib-distrib}); null when not set
 * @param vddkTransports  VDDK transport modes in order of preference; empty: VDDK's own order
 * @param snapshotCleanupTimeout how long a snapshot removal that failed is retried in the background
 * @param vcenters        the vCenters configured on the node, by the name jobs give
 * @param maxReplyBytes   the most bytes read of one SOAP reply; a longer one fails the call
 */
public record VmwareSettings(Duration shutdownTimeout, List<String> vddkPlugin, Path vddkLibdir,
                             List<String> vddkTransports, Duration snapshotCleanupTimeout, Vcenters vcenters,
                             long maxReplyBytes) {
    static final Set<String> TRANSPORTS = Set.of("file", "san", "hotadd", "nbd", "nbdssl");
    /** No vCenter reply BlockFerry asks for comes near this; see reference.conf. */
    static final long MIN_REPLY_BYTES = 64 << 10;

    public VmwareSettings {
        vddkPlugin = List.copyOf(vddkPlugin);
        vddkTransports = List.copyOf(vddkTransports);
        Objects.requireNonNull(vcenters, "vcenters");
    }

    /** The defaults of reference.conf: no vCenter, 5 minutes, plugin vddk, no libdir, cleanup for 30 minutes, 64 MiB replies. */
    public static VmwareSettings defaults() {
        return new VmwareSettings(Duration.ofMinutes(5), List.of("vddk"), null, List.of(), Duration.ofMinutes(30),
                Vcenters.of(List.of()), VimClient.DEFAULT_MAX_REPLY_BYTES);
    }

    public VmwareSettings withVcenters(Vcenter... configured) {
        return new VmwareSettings(shutdownTimeout, vddkPlugin, vddkLibdir, vddkTransports, snapshotCleanupTimeout,
                Vcenters.of(List.of(configured)), maxReplyBytes);
    }

    public VmwareSettings withTimeouts(Duration shutdown, Duration snapshotCleanup) {
        return new VmwareSettings(shutdown, vddkPlugin, vddkLibdir, vddkTransports, snapshotCleanup, vcenters,
                maxReplyBytes);
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
        boolean allowInsecure;
        long maxReply;
        try {
            allowInsecure = c.hasPath("allow-insecure") && c.getBoolean("allow-insecure");
        } catch (ConfigException.WrongType e) {
            throw new InvalidInputException(prefix + "allow-insecure", "must be true or false");
        }
        try {
            maxReply = c.hasPath("max-reply-bytes") ? c.getBytes("max-reply-bytes") : VimClient.DEFAULT_MAX_REPLY_BYTES;
        } catch (ConfigException.WrongType | ConfigException.BadValue e) {
            throw new InvalidInputException(VimClient.MAX_REPLY_KEY, "must be a size such as 64MiB");
        }
        if (maxReply < MIN_REPLY_BYTES) {
            throw new InvalidInputException(VimClient.MAX_REPLY_KEY, "must be at least 64KiB, got " + maxReply + " bytes");
        }
        return new VmwareSettings(timeout, plugin(prefix + "vddk.plugin", plugin),
                libdir.isEmpty() ? null : absolute(prefix + "vddk.libdir", libdir),
                transports(prefix + "vddk.transports", transports), cleanup, Vcenters.fromConfig(c, allowInsecure),
                maxReply);
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
