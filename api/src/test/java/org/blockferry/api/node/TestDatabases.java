package org.blockferry.api.node;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import org.blockferry.persistence.PersistenceSettings;

/**
 * The two databases the job tests run on: an H2 file in the test's scratch directory, and the
 * PostgreSQL server at 127.0.0.1:5432 (database "test", trust auth), one fresh schema per use.
 */
public final class TestDatabases {
    public enum Kind { H2, POSTGRES }

    private static final String PG = "jdbc:postgresql://127.0.0.1:5432/test";

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
        } catch (SQLException e) {
            throw new AssertionError("PostgreSQL is needed at 127.0.0.1:5432 (database test, user postgres, trust"
                    + " auth); start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
                    + " (" + e.getMessage() + ")", e);
        }
        return PersistenceSettings.postgres(PG + "?currentSchema=" + schema, "postgres", "", 4);
    }
}
