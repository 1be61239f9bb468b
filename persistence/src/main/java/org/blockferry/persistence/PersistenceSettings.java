package org.blockferry.persistence;

import com.typesafe.config.Config;
import java.io.IOException;
import java.nio.file.Path;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.endpoint.SecretFile;

/**
 * Where BlockFerry keeps its journal and read side ({@code blockferry.persistence}): an embedded
 * H2 file, or PostgreSQL. The password may come from the configuration, the environment or a
 * file, and is never logged.
 */
public record PersistenceSettings(Backend backend, String url, String user, String password, int poolSize) {

    /** The supported databases. */
    public enum Backend { H2, POSTGRES }

    static {
        // H2's auto-server (other processes of the user read the file while a node runs) listens on
        // the loopback interface only. H2 reads this once, when its engine first loads: every
        // process opens its database through these settings first.
        System.setProperty("h2.bindAddress", System.getProperty("h2.bindAddress", "127.0.0.1"));
    }

    public PersistenceSettings {
        if (poolSize < 1 || poolSize > 64) {
            throw new InvalidInputException("blockferry.persistence.pool-size", "must be 1..64, got " + poolSize);
        }
    }

    public static PersistenceSettings fromConfig(Config config) {
        Config c = config.getConfig("blockferry.persistence");
        String backend = c.getString("backend").trim().toLowerCase(java.util.Locale.ROOT);
        int pool = c.getInt("pool-size");
        return switch (backend) {
            case "h2" -> h2(Path.of(c.getString("h2.file")), pool);
            case "postgres", "postgresql" -> new PersistenceSettings(Backend.POSTGRES, c.getString("postgres.url"),
                    c.getString("postgres.user"), password(c.getConfig("postgres")), pool);
            default -> throw new InvalidInputException("blockferry.persistence.backend",
                    "'" + backend + "' is not a backend (h2 or postgres)");
        };
    }

    /**
     * An embedded H2 database in {@code file} (+ ".mv.db"); other processes of the same user may
     * open it too (H2's auto-server, on the loopback interface only). Its password is random, kept
     * in {@code file + ".password"} (mode 0600), made at first use; see {@link #h2Password}.
     */
    public static PersistenceSettings h2(Path file, int poolSize) {
        Path absolute = file.toAbsolutePath().normalize();
        try {
            return new PersistenceSettings(Backend.H2, "jdbc:h2:file:" + absolute + ";AUTO_SERVER=TRUE", "sa",
                    SecretFile.readOrCreate(h2Password(absolute)).secret(), poolSize);
        } catch (IOException e) {
            throw new InvalidInputException("blockferry.persistence.h2.file", "cannot read or make the database's"
                    + " password file " + h2Password(absolute) + ": " + e.getMessage());
        }
    }

    /** The file that keeps an embedded database's password: next to it, mode 0600. */
    public static Path h2Password(Path file) {
        return file.resolveSibling(file.getFileName() + ".password");
    }

    /** The files an embedded database keeps next to {@code file}: what no job may read or write. */
    public static java.util.List<Path> h2Files(Path file) {
        String name = file.getFileName().toString();
        return java.util.List.of(file.resolveSibling(name + ".mv.db"), file.resolveSibling(name + ".trace.db"),
                file.resolveSibling(name + ".lock.db"), h2Password(file));
    }

    public static PersistenceSettings postgres(String url, String user, String password, int poolSize) {
        return new PersistenceSettings(Backend.POSTGRES, url, user, password, poolSize);
    }

    private static String password(Config c) {
        String file = c.getString("password-file");
        if (!file.isBlank()) {
            try {
                return SecretFile.firstLine(Path.of(file)).strip();
            } catch (IOException e) {
                throw new InvalidInputException("blockferry.persistence.postgres.password-file",
                        "cannot read " + file + ": " + e.getMessage());
            }
        }
        return c.getString("password");
    }

    /** For messages and logs: the URL without anything secret. */
    @Override
    public String toString() {
        return "PersistenceSettings[" + backend + " " + url + " user=" + user + "]";
    }
}
