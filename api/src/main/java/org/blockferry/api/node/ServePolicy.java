package org.blockferry.api.node;

import com.typesafe.config.Config;
import java.net.URL;
import org.blockferry.engine.cloudstack.Cloud;
import org.blockferry.engine.cloudstack.Clouds;
import java.nio.file.Path;
import org.blockferry.engine.endpoint.StoragePolicy;
import org.blockferry.engine.endpoint.StoragePolicy.Protected.Scope;
import org.blockferry.persistence.PersistenceSettings;

/**
 * The storage policy of a serving node: {@code blockferry.storage} and {@code blockferry.nbd}
 * from its configuration, and the node's own files that no job may read or write whatever the
 * allowed roots say — its database, its secrets and keys, its configuration, the programs it runs.
 */
final class ServePolicy {
    private static final String H2_URL = "jdbc:h2:file:";

    private ServePolicy() {
    }

    static StoragePolicy of(Config config, PersistenceSettings persistence) {
        StoragePolicy.Builder b = StoragePolicy.configured(config);
        Path dataDir = Path.of(config.getString("blockferry.data-dir"));
        b.protect(dataDir.resolve("api-token"), Scope.FILE, "the node's API token");
        b.protect(dataDir.resolve("db-password"), Scope.FILE, "the node's database password");
        if (persistence.backend() == PersistenceSettings.Backend.H2 && persistence.url().startsWith(H2_URL)) {
            String rest = persistence.url().substring(H2_URL.length());
            Path file = Path.of(rest.contains(";") ? rest.substring(0, rest.indexOf(';')) : rest);
            b.protect(file, Scope.NAME_PREFIX, "the node's database");
            for (String suffix : new String[] {".mv.db", ".trace.db", ".lock.db"}) {
                b.protect(file.resolveSibling(file.getFileName() + suffix), Scope.FILE, "the node's database");
            }
        }
        file(b, config, "blockferry.http.token-file", "the node's API token");
        file(b, config, "blockferry.http.tls.key-store", "the node's TLS key store");
        file(b, config, "blockferry.http.tls.key-store-password-file", "the node's TLS key store password");
        file(b, config, "blockferry.persistence.postgres.password-file", "the node's database password");
        tree(b, config, "blockferry.vmware.vddk.libdir", "VMware's VDDK libraries of the node");
        for (String program : new String[] {"blockferry.vmware.vddk.plugin", "blockferry.local-export.nbdkit",
            "blockferry.local-export.qemu-nbd", "blockferry.local-export.qemu-img"}) {
            file(b, config, program, "a program the node runs");
        }
        for (Cloud cloud : Clouds.fromConfig(config).all()) {
            // its volumes' devices are written through a cloudstack target only, never a job's path
            b.protect(cloud.deviceDir(), Scope.LINKS_IN, "a device of a CloudStack volume (" + cloud.key("device-dir")
                    + "), reached through a cloudstack target only");
            b.protect(cloud.apiKeyFile(), Scope.FILE, "the node's CloudStack API key");
            b.protect(cloud.secretKeyFile(), Scope.FILE, "the node's CloudStack secret key");
        }
        for (String property : new String[] {"config.file", "logback.configurationFile"}) {
            String value = System.getProperty(property);
            if (value != null && !value.isBlank() && Path.of(value).isAbsolute()) {
                b.protect(Path.of(value), Scope.FILE, "the node's configuration");
            }
        }
        for (String resource : new String[] {"application.conf", "application.json", "application.properties",
            "logback.xml"}) {
            URL url = ServePolicy.class.getClassLoader().getResource(resource);
            if (url != null && "file".equals(url.getProtocol())) {
                b.protect(Path.of(java.net.URI.create(url.toString())), Scope.FILE, "the node's configuration");
            }
        }
        return b.build();
    }

    /** A file named by a setting, when the setting names an absolute path. */
    private static void file(StoragePolicy.Builder b, Config config, String key, String what) {
        path(config, key, b, Scope.FILE, what);
    }

    private static void tree(StoragePolicy.Builder b, Config config, String key, String what) {
        path(config, key, b, Scope.TREE, what);
    }

    private static void path(Config config, String key, StoragePolicy.Builder b, Scope scope, String what) {
        if (!config.hasPath(key)) {
            return;
        }
        String value = config.getString(key).trim();
        if (!value.isEmpty() && value.indexOf('\0') < 0 && Path.of(value).isAbsolute()) {
            b.protect(Path.of(value), scope, what);
        }
    }
}
