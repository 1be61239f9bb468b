package org.blockferry.persistence;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * Databases of their own for tests: an H2 file under target/tests, or a fresh schema of the
 * PostgreSQL at 127.0.0.1:5432 (database test, user postgres, trust auth), so that test classes
 * and forks run side by side (the api module's tests use it too, through its test-jar). A schema
 * not dropped by its test is dropped when the JVM exits; one a process still locks after 5 s is
 * kept, and said so.
 */
public final class ScratchDatabases {
    private static final String PG = "jdbc:postgresql://127.0.0.1:5432/test";
    private static final String SCHEMA = "?currentSchema=";
    private static final java.util.Set<String> LEFT = java.util.concurrent.ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            for (String schema : LEFT) {
                try {
                    execute("SET lock_timeout = '5s'; DROP SCHEMA IF EXISTS " + schema + " CASCADE");
                } catch (AssertionError e) {
                    System.err.println("ScratchDatabases: kept schema " + schema + ": " + e.getMessage());
                }
            }
        }, "drop-scratch-schemas"));
    }

    private ScratchDatabases() {
    }

    /** A new H2 database file named after {@code label}. */
    public static PersistenceSettings h2(String label, int poolSize) throws Exception {
        Path dir = Files.createDirectories(Path.of("target", "tests").toAbsolutePath())
                .resolve(label + "-" + System.nanoTime());
        return PersistenceSettings.h2(dir.resolve("blockferry"), poolSize);
    }

    /** A new, empty PostgreSQL schema named after {@code label}; fails saying how to get PostgreSQL. */
    public static PersistenceSettings postgres(String label, int poolSize) {
        String schema = "bf_" + label + "_" + Long.toHexString(System.nanoTime()) + "_" + ProcessHandle.current().pid();
        execute("CREATE SCHEMA " + schema);
        LEFT.add(schema);
        return PersistenceSettings.postgres(PG + SCHEMA + schema, "postgres", "", poolSize);
    }

    /** Drops the PostgreSQL schema of {@code settings} with everything in it; nothing for H2. */
    public static void drop(PersistenceSettings settings) {
        int at = settings.url().indexOf(SCHEMA);
        if (settings.backend() == PersistenceSettings.Backend.POSTGRES && at >= 0) {
            String schema = settings.url().substring(at + SCHEMA.length());
            execute("DROP SCHEMA " + schema + " CASCADE");
            LEFT.remove(schema);
        }
    }

    private static void execute(String sql) {
        try (Connection c = DriverManager.getConnection(PG, "postgres", ""); Statement s = c.createStatement()) {
            s.execute(sql);
        } catch (SQLException e) {
            throw new AssertionError("PostgreSQL is needed at 127.0.0.1:5432 (database test, user postgres, trust"
                    + " auth; scripts/test starts it, or: pg_ctlcluster --skip-systemctl-redirect"
                    + " $(ls /etc/postgresql) main start): " + e.getMessage(), e);
        }
    }
}
