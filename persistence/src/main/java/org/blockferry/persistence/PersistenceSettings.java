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

    /** An embedded H2 database in {@code file} (+ ".mv.db"); other processes may open it too. */
    public static PersistenceSettings h2(Path file, int poolSize) {
        Path absolute = file.toAbsolutePath().normalize();
        return new PersistenceSettings(Backend.H2, "jdbc:h2:file:" + absolute + ";AUTO_SERVER=TRUE", "sa", "",
                poolSize);
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
