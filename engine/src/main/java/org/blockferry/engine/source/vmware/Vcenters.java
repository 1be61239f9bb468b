package org.blockferry.engine.source.vmware;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.util.Collection;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.blockferry.engine.endpoint.ConfigValues;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.source.vmware.vim.VimTls;

/**
 * The vCenters configured on this node ({@code blockferry.vmware.vcenters}), by name: the only
 * vCenters a job can reach, since a job names one ({@code source.vcenter}). Each is checked when
 * the node starts, every error naming its key.
 */
public final class Vcenters {
    static final String KEY = "blockferry.vmware.vcenters";
    private static final Set<String> SETTINGS = Set.of("url", "user", "password-file", "thumbprint", "trust-store",
            "trust-store-password", "insecure");

    private final Map<String, Vcenter> byName;

    private Vcenters(Map<String, Vcenter> byName) {
        this.byName = byName;
    }

    public static Vcenters of(Collection<Vcenter> vcenters) {
        Map<String, Vcenter> m = new TreeMap<>();
        for (Vcenter v : vcenters) {
            m.put(v.name(), v);
        }
        return new Vcenters(m);
    }

    /** The configured names, sorted. */
    public Set<String> names() {
        return byName.keySet();
    }

    /**
     * The vCenter a job names in {@code source.vcenter}. Unknown: refused, naming the field and
     * the configured names (names only).
     */
    public Vcenter named(String name) {
        Vcenter v = name == null ? null : byName.get(name);
        if (v != null) {
            return v;
        }
        String known = byName.isEmpty() ? "none is configured on this node; an operator adds them under " + KEY
                : "configured: " + String.join(", ", byName.keySet());
        throw new InvalidInputException("source.vcenter", name == null
                ? "the job names no vCenter (it was submitted before jobs named one); submit it again with"
                + " source.vcenter (" + known + ")"
                : "'" + name + "' is not a vCenter of this node (" + known + ")");
    }

    /** Reads and checks {@code blockferry.vmware.vcenters} ({@code vmware} is {@code blockferry.vmware}). */
    static Vcenters fromConfig(Config vmware, boolean allowInsecure) {
        if (!vmware.hasPath("vcenters")) {
            return of(Set.of());
        }
        if (vmware.getValue("vcenters").valueType() != ConfigValueType.OBJECT) {
            throw new InvalidInputException(KEY, "must be an object of named vCenters: vcenters { vc1 { url = ... } }");
        }
        Map<String, Vcenter> m = new TreeMap<>();
        for (Map.Entry<String, ConfigValue> e : vmware.getObject("vcenters").entrySet()) {
            String name = e.getKey();
            if (!JobSpec.Source.VCENTER_NAME.matcher(name).matches()) {
                throw new InvalidInputException(KEY + "." + name, "'" + name + "' is not a vCenter name (1-64 letters,"
                        + " digits, '_' or '-')");
            }
            if (e.getValue().valueType() != ConfigValueType.OBJECT) {
                throw new InvalidInputException(KEY + "." + name, "must be an object: { url = ..., user = ...,"
                        + " password-file = ... }");
            }
            m.put(name, vcenter(name, vmware.getConfig("vcenters").getConfig(quoted(name)), allowInsecure));
        }
        return new Vcenters(m);
    }

    private static String quoted(String name) {
        return "\"" + name + "\"";
    }

    private static Vcenter vcenter(String name, Config c, boolean allowInsecure) {
        String prefix = KEY + "." + name + ".";
        for (String setting : c.root().keySet()) {
            if (setting.equals("password") || setting.equals("password-env")) {
                throw new InvalidInputException(prefix + setting, "is not a setting: give password-file, a file"
                        + " readable only by the node (not in its configuration, which tools print, nor in its"
                        + " environment, which its child processes inherit)");
            }
            if (!SETTINGS.contains(setting)) {
                throw new InvalidInputException(prefix + setting, "unknown setting (a vCenter has "
                        + String.join(", ", SETTINGS.stream().sorted().toList())
                        + ")");
            }
        }
        URI url = url(prefix + "url", string(c, prefix, "url", true));
        String user = string(c, prefix, "user", true);
        Path passwordFile = readableFile(prefix + "password-file", string(c, prefix, "password-file", true));
        String thumbprint = string(c, prefix, "thumbprint", false);
        if (thumbprint != null && !thumbprint.matches("([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}")) {
            throw new InvalidInputException(prefix + "thumbprint", "must be the SHA-256 thumbprint of vCenter's"
                    + " certificate (64 hex digits, colons allowed)");
        }
        String store = string(c, prefix, "trust-store", false);
        Path trustStore = store == null ? null : readableFile(prefix + "trust-store", store);
        String storePassword = string(c, prefix, "trust-store-password", false);
        if (storePassword != null && trustStore == null) {
            throw new InvalidInputException(prefix + "trust-store-password", "is only for a trust-store");
        }
        boolean insecure = bool(c, prefix, "insecure");
        if (thumbprint != null && trustStore != null) {
            throw new InvalidInputException(prefix + "trust-store", "contradicts " + prefix + "thumbprint (give one"
                    + " of them)");
        }
        if (insecure && (thumbprint != null || trustStore != null)) {
            throw new InvalidInputException(prefix + "insecure", "contradicts " + prefix
                    + (thumbprint != null ? "thumbprint" : "trust-store") + " (give one of them)");
        }
        if (insecure && !allowInsecure) {
            throw new InvalidInputException(prefix + "insecure", "is true, but blockferry.vmware.allow-insecure is"
                    + " false: pin vCenter's certificate with thumbprint or trust its CA with trust-store"
                    + " (allow-insecure is for labs only)");
        }
        if (trustStore != null) {
            try {
                VimTls.trustStore(trustStore, storePassword == null ? null : storePassword.toCharArray());
            } catch (IOException | GeneralSecurityException e) {
                throw new InvalidInputException(prefix + "trust-store", "cannot be read as a PEM file or PKCS12 store"
                        + " of CA certificates: " + e.getMessage() + (storePassword == null
                        ? " (a PKCS12 store written with a password needs " + prefix + "trust-store-password)" : ""));
            }
        }
        return new Vcenter(name, url, user, passwordFile, thumbprint, trustStore, storePassword, insecure);
    }

    private static URI url(String key, String value) {
        URI uri;
        try {
            uri = new URI(value);
        } catch (URISyntaxException e) {
            throw new InvalidInputException(key, "'" + value + "' is not a URL: " + e.getReason());
        }
        if (!"https".equals(uri.getScheme())) {
            throw new InvalidInputException(key, "'" + value + "' must be an https:// URL of vCenter's SDK"
                    + " (https://vc.example/sdk): the password is sent in the SOAP Login");
        }
        if (uri.getHost() == null || uri.getUserInfo() != null || uri.getQuery() != null || uri.getFragment() != null) {
            throw new InvalidInputException(key, "'" + value + "' must be https://HOST[:PORT]/PATH, without a user,"
                    + " query or fragment");
        }
        return uri;
    }

    private static Path readableFile(String key, String value) {
        return ConfigValues.readableFile(key, value);
    }

    private static String string(Config c, String prefix, String key, boolean required) {
        return ConfigValues.string(c, prefix, key, required);
    }

    private static boolean bool(Config c, String prefix, String key) {
        try {
            return c.hasPath(key) && c.getBoolean(key);
        } catch (ConfigException.WrongType e) {
            throw new InvalidInputException(prefix + key, "must be true or false");
        }
    }
}
