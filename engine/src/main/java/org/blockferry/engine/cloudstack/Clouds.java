package org.blockferry.engine.cloudstack;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collection;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;
import org.blockferry.engine.endpoint.ConfigValues;
import org.blockferry.engine.endpoint.InvalidInputException;

/**
 * The CloudStack clouds configured on this node ({@code blockferry.cloudstack.clouds}), by name: the
 * only clouds a job can write to, since a job names one ({@code target.cloud}). Each is checked when
 * the node starts, every error naming its key.
 */
public final class Clouds {
    public static final String KEY = "blockferry.cloudstack.clouds";
    /** A cloud's name on the node and in jobs: what a HOCON key holds without quoting. */
    public static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_-]{0,63}");
    static final Pattern UUID = Pattern.compile("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");
    private static final Set<String> SETTINGS = Set.of("url", "api-key-file", "secret-key-file", "zone",
            "disk-offering", "appliance-vm-id", "device-dir", "async-timeout", "device-timeout", "signature-version");
    private static final Set<String> INLINE_KEYS = Set.of("api-key", "secret-key", "apikey", "secretkey", "api-key-env",
            "secret-key-env");

    private final Map<String, Cloud> byName;

    private Clouds(Map<String, Cloud> byName) {
        this.byName = byName;
    }

    public static Clouds of(Collection<Cloud> clouds) {
        Map<String, Cloud> m = new TreeMap<>();
        for (Cloud c : clouds) {
            m.put(c.name(), c);
        }
        return new Clouds(m);
    }

    /** The configured clouds, by name. */
    public java.util.Collection<Cloud> all() {
        return byName.values();
    }

    /** The configured names, sorted. */
    public Set<String> names() {
        return byName.keySet();
    }

    /**
     * The cloud a job names in {@code field} (e.g. {@code target.cloud}). Unknown: refused, naming
     * the field and the configured names (names only).
     */
    public Cloud named(String field, String name) {
        Cloud c = name == null ? null : byName.get(name);
        if (c != null) {
            return c;
        }
        String known = byName.isEmpty() ? "none is configured on this node; an operator adds them under " + KEY
                : "configured: " + String.join(", ", byName.keySet());
        throw new InvalidInputException(field, name == null ? "names no CloudStack cloud (" + known + ")"
                : "'" + name + "' is not a CloudStack cloud of this node (" + known + ")");
    }

    /** Reads and checks {@code blockferry.cloudstack.clouds} of the node's whole configuration; absent: none. */
    public static Clouds fromConfig(Config config) {
        if (!config.hasPath(KEY)) {
            return of(Set.of());
        }
        if (config.getValue(KEY).valueType() != ConfigValueType.OBJECT) {
            throw new InvalidInputException(KEY, "must be an object of named clouds: clouds { cs1 { url = ... } }");
        }
        Map<String, Cloud> m = new TreeMap<>();
        for (Map.Entry<String, ConfigValue> e : config.getObject(KEY).entrySet()) {
            String name = e.getKey();
            if (!NAME.matcher(name).matches()) {
                throw new InvalidInputException(KEY + "." + name, "'" + name + "' is not a cloud name (1-64 letters,"
                        + " digits, '_' or '-', starting with a letter or digit)");
            }
            if (e.getValue().valueType() != ConfigValueType.OBJECT) {
                throw new InvalidInputException(KEY + "." + name, "must be an object: { url = ..., api-key-file = ...,"
                        + " secret-key-file = ..., zone = ..., disk-offering = ..., appliance-vm-id = ... }");
            }
            m.put(name, cloud(name, config.getConfig(KEY).getConfig("\"" + name + "\"")));
        }
        return new Clouds(m);
    }

    private static Cloud cloud(String name, Config c) {
        String prefix = KEY + "." + name + ".";
        for (String setting : c.root().keySet()) {
            if (INLINE_KEYS.contains(setting)) {
                String file = setting.startsWith("api") ? "api-key-file" : "secret-key-file";
                throw new InvalidInputException(prefix + setting, "is not a setting: give " + file + ", a file readable"
                        + " only by the node (not in its configuration, which tools print, nor in its environment,"
                        + " which its child processes inherit)");
            }
            if (!SETTINGS.contains(setting)) {
                throw new InvalidInputException(prefix + setting, "unknown setting (a cloud has "
                        + String.join(", ", SETTINGS.stream().sorted().toList()) + ")");
            }
        }
        URI url = url(prefix + "url", string(c, prefix, "url", true));
        Path apiKeyFile = readableFile(prefix + "api-key-file", string(c, prefix, "api-key-file", true));
        Path secretKeyFile = readableFile(prefix + "secret-key-file", string(c, prefix, "secret-key-file", true));
        String zone = string(c, prefix, "zone", true);
        String diskOffering = string(c, prefix, "disk-offering", true);
        String vm = string(c, prefix, "appliance-vm-id", true);
        if (!UUID.matcher(vm).matches()) {
            throw new InvalidInputException(prefix + "appliance-vm-id", "'" + vm + "' must be the UUID of this node's"
                    + " own CloudStack instance (listVirtualMachines shows it as id)");
        }
        String dir = string(c, prefix, "device-dir", false);
        Path deviceDir = dir == null ? Cloud.DEFAULT_DEVICE_DIR : Path.of(dir);
        if (!deviceDir.isAbsolute()) {
            throw new InvalidInputException(prefix + "device-dir", "'" + dir + "' must be an absolute path");
        }
        Duration asyncTimeout = duration(c, prefix, "async-timeout", Cloud.DEFAULT_ASYNC_TIMEOUT);
        Duration deviceTimeout = duration(c, prefix, "device-timeout", Cloud.DEFAULT_DEVICE_TIMEOUT);
        int version = signatureVersion(c, prefix);
        return new Cloud(name, url, apiKeyFile, secretKeyFile, zone, diskOffering, vm, deviceDir, asyncTimeout,
                deviceTimeout, version);
    }

    private static URI url(String key, String value) {
        URI uri;
        try {
            uri = new URI(value);
        } catch (URISyntaxException e) {
            throw new InvalidInputException(key, "'" + value + "' is not a URL: " + e.getReason());
        }
        String scheme = uri.getScheme();
        if (!"https".equals(scheme) && !"http".equals(scheme) || uri.getHost() == null || uri.getUserInfo() != null
                || uri.getQuery() != null || uri.getFragment() != null) {
            throw new InvalidInputException(key, "'" + value + "' must be https://HOST[:PORT]/client/api, without a"
                    + " user, query or fragment");
        }
        if (uri.getPath() == null || !uri.getPath().endsWith("/client/api")) {
            throw new InvalidInputException(key, "'" + value + "' must be the API endpoint, ending in /client/api"
                    + " (https://cloud.example/client/api)");
        }
        if (scheme.equals("http") && !loopback(uri.getHost())) {
            throw new InvalidInputException(key, "'" + value + "' must be https: a real cloud is reached over TLS"
                    + " (signed requests carry the API key); http is only for a loopback host such as 127.0.0.1");
        }
        return uri;
    }

    /** Only the literal loopback names: a host name is not resolved, so DNS cannot make it local. */
    private static boolean loopback(String host) {
        if (host.equalsIgnoreCase("localhost")) {
            return true;
        }
        String literal = host.startsWith("[") ? host.substring(1, host.length() - 1) : host;
        if (!literal.matches("[0-9.]+") && !literal.contains(":")) {
            return false;
        }
        try {
            return InetAddress.getByName(literal).isLoopbackAddress();
        } catch (UnknownHostException e) {
            return false;
        }
    }

    private static Path readableFile(String key, String value) {
        return ConfigValues.readableFile(key, value);
    }

    private static String string(Config c, String prefix, String key, boolean required) {
        return ConfigValues.string(c, prefix, key, required);
    }

    private static Duration duration(Config c, String prefix, String key, Duration dflt) {
        if (!c.hasPath(key)) {
            return dflt;
        }
        Duration d;
        try {
            d = c.getDuration(key);
        } catch (ConfigException.WrongType | ConfigException.BadValue e) {
            throw new InvalidInputException(prefix + key, "must be a duration such as 60s or 15m");
        }
        if (d.isNegative() || d.isZero()) {
            throw new InvalidInputException(prefix + key, "must be longer than zero");
        }
        return d;
    }

    private static int signatureVersion(Config c, String prefix) {
        if (!c.hasPath("signature-version")) {
            return Cloud.DEFAULT_SIGNATURE_VERSION;
        }
        try {
            int v = c.getInt("signature-version");
            if (v == 2 || v == 3) {
                return v;
            }
        } catch (ConfigException.WrongType e) {
            // refused below with the same words
        }
        throw new InvalidInputException(prefix + "signature-version", "must be 3 (requests that expire; CloudStack"
                + " 4.x) or 2");
    }

    @Override
    public String toString() {
        return "Clouds" + byName.keySet();
    }
}
