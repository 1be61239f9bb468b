package org.blockferry.persistence.lease;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Collection;
import java.util.Collections;
import java.util.HashSet;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import javax.sql.DataSource;
import org.blockferry.persistence.PersistenceSettings.Backend;

/**
 * Leases as rows of {@code blockferry_lease}: one statement per operation, each atomic on its own,
 * every age measured on the database's clock. Blocking; callers keep it off actor threads.
 */
public final class DatabaseLeases {

    /** The widths of the table's columns (characters). */
    public static final int MAX_NAME = 255;
    public static final int MAX_OWNER = 500;
    /** Most leases renewed by one statement. */
    public static final int MAX_BATCH = 500;

    // Insert, or take the row over when it is ours already or has not been renewed for the expiry.
    // Losers of a race for a new name find the winner's row and leave it: 0 rows, not an error.
    private static final String ACQUIRE_POSTGRES = "INSERT INTO blockferry_lease (name, owner, renewed_at)"
            + " VALUES (?, ?, CURRENT_TIMESTAMP) ON CONFLICT (name) DO UPDATE"
            + " SET owner = EXCLUDED.owner, renewed_at = CURRENT_TIMESTAMP"
            + " WHERE blockferry_lease.owner = EXCLUDED.owner"
            + " OR blockferry_lease.renewed_at < CURRENT_TIMESTAMP - ? * INTERVAL '1 millisecond'";
    // H2 has no ON CONFLICT, and its MERGE fails on a concurrent insert: the conditional update
    // first, then an insert whose duplicate key means "someone was faster". H2 re-reads a row an
    // update waited for before applying its condition, so of two takers only one matches.
    private static final String TAKE_OVER_H2 = "UPDATE blockferry_lease SET owner = ?, renewed_at = CURRENT_TIMESTAMP"
            + " WHERE name = ? AND (owner = ? OR renewed_at < DATEADD(MILLISECOND, ?, CURRENT_TIMESTAMP))";
    private static final String INSERT_H2 = "INSERT INTO blockferry_lease (name, owner, renewed_at)"
            + " VALUES (?, ?, CURRENT_TIMESTAMP)";
    private static final String RENEW = "UPDATE blockferry_lease SET renewed_at = CURRENT_TIMESTAMP"
            + " WHERE name = ? AND owner = ?";
    private static final String RENEW_MANY = "UPDATE blockferry_lease SET renewed_at = CURRENT_TIMESTAMP"
            + " WHERE owner = ? AND name IN (";
    private static final String OWNED = "SELECT name FROM blockferry_lease WHERE owner = ? AND name IN (";
    private static final String RELEASE = "DELETE FROM blockferry_lease WHERE name = ? AND owner = ?";
    private static final String OWNER = "SELECT owner FROM blockferry_lease WHERE name = ?";
    /** SQLSTATE of a unique-key violation, in both databases. */
    private static final String DUPLICATE_KEY = "23505";

    private final DataSource dataSource;
    private final Backend backend;
    private final LeaseTiming timing;
    private final int queryTimeoutSeconds;

    public DatabaseLeases(DataSource dataSource, Backend backend, LeaseTiming timing) {
        this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
        this.backend = Objects.requireNonNull(backend, "backend");
        this.timing = Objects.requireNonNull(timing, "timing");
        // JDBC counts whole seconds; rounding up never cuts a statement short of the setting.
        this.queryTimeoutSeconds = (int) Math.max(1, (timing.operationTimeout().toMillis() + 999) / 1000);
    }

    public LeaseTiming timing() {
        return timing;
    }

    /**
     * Makes {@code owner} the holder of {@code name} if nobody holds it, {@code owner} holds it
     * already, or its holder has not renewed it for {@link LeaseTiming#expiry()}. False when
     * another owner holds it; of owners racing for one name exactly one gets true.
     */
    public boolean tryAcquire(String name, String owner) throws SQLException {
        checkName(name);
        checkOwner(owner);
        long expiryMillis = timing.expiry().toMillis();
        try (Connection c = dataSource.getConnection()) {
            if (backend == Backend.POSTGRES) {
                return update(c, ACQUIRE_POSTGRES, name, owner, expiryMillis) == 1;
            }
            if (update(c, TAKE_OVER_H2, owner, name, owner, -expiryMillis) == 1) {
                return true;
            }
            try {
                return update(c, INSERT_H2, name, owner) == 1;
            } catch (SQLException e) {
                if (!DUPLICATE_KEY.equals(e.getSQLState())) {
                    throw e;
                }
                // Inserted by someone else since our update: theirs unless it is ours (same owner).
                return update(c, TAKE_OVER_H2, owner, name, owner, -expiryMillis) == 1;
            }
        }
    }

    /** Marks {@code name} renewed now if {@code owner} still holds it; false if it is gone or another's. */
    public boolean renew(String name, String owner) throws SQLException {
        checkName(name);
        checkOwner(owner);
        try (Connection c = dataSource.getConnection()) {
            return update(c, RENEW, name, owner) == 1;
        }
    }

    /**
     * Renews every one of {@code names} that {@code owner} still holds, in one statement; returns
     * those it holds now (renewed by this call, or acquired again meanwhile by the same owner).
     * At most {@link #MAX_BATCH} names.
     */
    public Set<String> renew(String owner, Collection<String> names) throws SQLException {
        checkOwner(owner);
        if (names.size() > MAX_BATCH) {
            throw new IllegalArgumentException("at most " + MAX_BATCH + " leases per renewal, got " + names.size());
        }
        names.forEach(DatabaseLeases::checkName);
        if (names.isEmpty()) {
            return Set.of();
        }
        String in = String.join(", ", Collections.nCopies(names.size(), "?"));
        Object[] args = new Object[names.size() + 1];
        args[0] = owner;
        System.arraycopy(names.toArray(), 0, args, 1, names.size());
        try (Connection c = dataSource.getConnection()) {
            if (update(c, RENEW_MANY + in + ")", args) == names.size()) {
                return Set.copyOf(names);
            }
            try (PreparedStatement s = c.prepareStatement(OWNED + in + ")")) {
                s.setQueryTimeout(queryTimeoutSeconds);
                for (int i = 0; i < args.length; i++) {
                    s.setObject(i + 1, args[i]);
                }
                Set<String> owned = new HashSet<>();
                try (ResultSet r = s.executeQuery()) {
                    while (r.next()) {
                        owned.add(r.getString(1));
                    }
                }
                return owned;
            }
        }
    }

    /** Deletes {@code name} if {@code owner} holds it; true if it did. Another owner's lease is left alone. */
    public boolean release(String name, String owner) throws SQLException {
        checkName(name);
        checkOwner(owner);
        try (Connection c = dataSource.getConnection()) {
            return update(c, RELEASE, name, owner) == 1;
        }
    }

    /** Who holds {@code name} as the table says, however old its last renewal. */
    public Optional<String> owner(String name) throws SQLException {
        checkName(name);
        try (Connection c = dataSource.getConnection(); PreparedStatement s = c.prepareStatement(OWNER)) {
            s.setQueryTimeout(queryTimeoutSeconds);
            s.setString(1, name);
            try (ResultSet r = s.executeQuery()) {
                return r.next() ? Optional.of(r.getString(1)) : Optional.empty();
            }
        }
    }

    private int update(Connection c, String sql, Object... args) throws SQLException {
        try (PreparedStatement s = c.prepareStatement(sql)) {
            s.setQueryTimeout(queryTimeoutSeconds);
            for (int i = 0; i < args.length; i++) {
                s.setObject(i + 1, args[i]);
            }
            return s.executeUpdate();
        }
    }

    /** A name that fits its column and the database: checked before anything is sent. */
    public static String checkName(String name) {
        return check("lease name", name, MAX_NAME);
    }

    /** An owner that fits its column and the database: checked before anything is sent. */
    public static String checkOwner(String owner) {
        return check("lease owner", owner, MAX_OWNER);
    }

    private static String check(String what, String value, int max) {
        if (value == null || value.isBlank()) {
            throw new IllegalArgumentException("a " + what + " must not be empty");
        }
        int length = value.codePointCount(0, value.length());
        if (length > max) {
            throw new IllegalArgumentException("a " + what + " has at most " + max + " characters, this one has "
                    + length + ": " + value.substring(0, 40) + "...");
        }
        if (value.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("a " + what + " must not contain a NUL character");
        }
        return value;
    }
}
