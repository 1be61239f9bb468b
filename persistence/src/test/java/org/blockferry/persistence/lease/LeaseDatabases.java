package org.blockferry.persistence.lease;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import org.blockferry.persistence.Database;
import org.blockferry.persistence.PersistenceSettings;
import org.blockferry.persistence.ScratchDatabases;

/**
 * The two real databases the lease tests run on, opened once per test class with the schema
 * applied: an H2 file under target/, and a fresh schema of the PostgreSQL at 127.0.0.1:5432
 * (database test, trust auth), dropped at the end. Tests use names of their own, so classes and
 * forks run side by side.
 */
final class LeaseDatabases implements AutoCloseable {

    enum Kind { H2, POSTGRES }

    private final Map<Kind, Database> open = new EnumMap<>(Kind.class);
    private final String label;
    private PersistenceSettings pg;

    LeaseDatabases(String label) {
        this.label = label;
    }

    /** Small timings, so that expiry and takeover happen within a test. */
    static LeaseTiming fast() {
        return new LeaseTiming(Duration.ofSeconds(1), Duration.ofMillis(200), Duration.ofSeconds(2),
                Duration.ofMillis(300));
    }

    synchronized Database get(Kind kind) throws Exception {
        Database db = open.get(kind);
        if (db == null) {
            db = Database.open(kind == Kind.H2 ? h2() : postgres());
            db.applySchema();
            open.put(kind, db);
        }
        return db;
    }

    DatabaseLeases leases(Kind kind, LeaseTiming timing) throws Exception {
        Database db = get(kind);
        return new DatabaseLeases(db.dataSource(), db.settings().backend(), timing);
    }

    /** A lease name no other test uses. */
    static String unique(String what) {
        return what + "-" + ProcessHandle.current().pid() + "-" + Long.toHexString(System.nanoTime());
    }

    /** Another process taking a lease over behind its holder's back, as a takeover after a pause does. */
    void overwriteOwner(Kind kind, String name, String owner) throws Exception {
        try (Connection c = get(kind).dataSource().getConnection();
             PreparedStatement s = c.prepareStatement("UPDATE blockferry_lease SET owner = ? WHERE name = ?")) {
            s.setString(1, owner);
            s.setString(2, name);
            if (s.executeUpdate() != 1) {
                throw new AssertionError("no lease row " + name);
            }
        }
    }

    /** Rows whose name starts with {@code prefix}. */
    int rows(Kind kind, String prefix) throws Exception {
        try (Connection c = get(kind).dataSource().getConnection();
             PreparedStatement s = c.prepareStatement("SELECT COUNT(*) FROM blockferry_lease WHERE name LIKE ?")) {
            s.setString(1, prefix + "%");
            try (var r = s.executeQuery()) {
                r.next();
                return r.getInt(1);
            }
        }
    }

    private PersistenceSettings h2() throws Exception {
        return ScratchDatabases.h2("lease-" + label, 12);
    }

    private PersistenceSettings postgres() {
        PersistenceSettings settings = ScratchDatabases.postgres("lease", 12);
        pg = settings;
        return settings;
    }

    @Override
    public synchronized void close() throws SQLException {
        open.values().forEach(Database::close);
        open.clear();
        if (pg != null) {
            ScratchDatabases.drop(pg);
        }
    }
}
