package org.blockferry.engine.endpoint;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The environment of the programs BlockFerry starts (nbdkit, qemu-nbd, qemu-img): only what they
 * need, never what the node's own environment holds (its API token, its database password, a
 * vCenter password named by {@code password_env}). A child inherits nothing else.
 */
public final class ChildEnvironment {
    /** Passed on from the node's environment when set: where programs are, temp files, libraries, home. */
    static final List<String> INHERITED = List.of("PATH", "TMPDIR", "LD_LIBRARY_PATH", "HOME");
    /** Every variable a child may have. */
    public static final Set<String> KEYS = Set.of("PATH", "TMPDIR", "LD_LIBRARY_PATH", "HOME", "LANG", "LC_ALL");
    private static final String DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    private ChildEnvironment() {
    }

    /** A child's environment, given the node's: {@link #INHERITED} when set, the C locale (stable messages). */
    public static Map<String, String> of(Map<String, String> node) {
        Map<String, String> env = new TreeMap<>();
        for (String key : INHERITED) {
            String value = node.get(key);
            if (value != null && !value.isEmpty()) {
                env.put(key, value);
            }
        }
        env.putIfAbsent("PATH", DEFAULT_PATH);
        env.put("LANG", "C");
        env.put("LC_ALL", "C");
        return env;
    }

    /** {@code builder} with its inherited environment replaced by {@link #of} the node's. */
    public static ProcessBuilder minimal(ProcessBuilder builder) {
        Map<String, String> env = builder.environment();
        env.clear();
        env.putAll(of(System.getenv()));
        return builder;
    }
}
