package org.blockferry.api.node;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.blockferry.persistence.PersistenceSettings;

/**
 * The two databases the job tests run on: an H2 file in the test's scratch directory, and the
 * PostgreSQL server at 127.0.0.1:5432 (database "test", trust auth), one fresh schema per use,
 * dropped when the test JVM exits (its nodes, in process or not, are closed by then).
 */
public final class TestDatabases {
    public enum Kind { H2, POSTGRES }

    private static final String PG = "jdbc:postgresql://127.0.0.1:5432/test";
    private static final List<String> CREATED = new CopyOnWriteArrayList<>();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(TestDatabases::dropCreated, "drop-test-schemas"));
    }

    private TestDatabases() {
    }

    public static PersistenceSettings create(Kind kind, Path dir) {
        if (kind == Kind.H2) {
            return PersistenceSettings.h2(dir.resolve("blockferry-db"), 4);
        }
        String schema = "bf_" + Long.toHexString(System.nanoTime()) + "_" + ProcessHandle.current().pid();
        try (Connection c = DriverManager.getConnection(PG, "postgres", "");
             Statement s = c.createStatement()) {
            s.execute("CREATE SCHEMA " + schema);
            CREATED.add(schema);
        } catch (SQLException e) {
            throw new AssertionError("PostgreSQL is needed at 127.0.0.1:5432 (database test, user postgres, trust"
                    + " auth); start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
                    + " (" + e.getMessage() + ")", e);
        }
        return PersistenceSettings.postgres(PG + "?currentSchema=" + schema, "postgres", "", 4);
    }

    private static void dropCreated() {
        if (CREATED.isEmpty()) {
            return;
        }
        try (Connection c = DriverManager.getConnection(PG, "postgres", "");
             Statement s = c.createStatement()) {
            s.execute("SET lock_timeout = '5s'"); // a node process still holding a lock keeps its schema
            for (String schema : CREATED) {
                try {
                    s.execute("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
                } catch (SQLException e) {
                    System.err.println("TestDatabases: kept schema " + schema + ": " + e.getMessage());
                }
            }
        } catch (SQLException e) {
            System.err.println("TestDatabases: cannot drop the test schemas " + CREATED + ": " + e.getMessage());
        }
    }
}
