package org.blockferry.persistence;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import javax.sql.DataSource;
import org.blockferry.engine.endpoint.SecretFile;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * BlockFerry's database for the read side and queries: a small connection pool, and the
 * schema (journal and read-side tables) applied idempotently at start.
 */
public final class Database implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Database.class);

    private final PersistenceSettings settings;
    /** The advisory lock (PostgreSQL) held while the schema is applied: "BLKFRY" in ASCII. */
    private static final long SCHEMA_LOCK = 0x424c4b465259L;
    private final HikariDataSource pool;
    private volatile HikariDataSource leasePool;

    private Database(PersistenceSettings settings, HikariDataSource pool) {
        this.settings = settings;
        this.pool = pool;
    }

    /**
     * Opens the pool and checks that the database answers; a database that cannot be reached is
     * named with the reason. An embedded H2 file another process is opening at this moment (its
     * lock file just written) is retried for a few seconds: {@code blockferry jobs} run while a
     * job starts must not fail.
     */
    public static Database open(PersistenceSettings settings) throws SQLException {
        boolean h2 = settings.backend() == PersistenceSettings.Backend.H2;
        if (h2) {
            createParentDirectory(settings.url());
        }
        String driver = h2 ? "org.h2.Driver" : "org.postgresql.Driver";
        if (h2) {
            H2Password.setIfEmpty(settings);
        }
        awaitReachable(settings, driver);
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(settings.url());
        config.setUsername(settings.user());
        config.setPassword(settings.password());
        config.setMaximumPoolSize(settings.poolSize());
        config.setMinimumIdle(1);
        config.setConnectionTimeout(10_000);
        config.setPoolName("blockferry-readside");
        config.setAutoCommit(true);
        config.setDriverClassName(driver);
        try {
            Database db = new Database(settings, new HikariDataSource(config));
            if (h2) {
                try {
                    ownerOnlyFiles(settings.url()); // the pool keeps the database, and its lock file, open
                } catch (SQLException e) {
                    db.close();
                    throw e;
                }
            }
            return db;
        } catch (RuntimeException e) {
            throw cannotOpen(settings, e.getCause() != null ? e.getCause() : e);
        }
    }

    /** One plain connection first: fails fast with the driver's own message, retries a busy H2 file. */
    private static void awaitReachable(PersistenceSettings settings, String driver) throws SQLException {
        try {
            Class.forName(driver);
        } catch (ClassNotFoundException e) {
            throw new SQLException("the JDBC driver " + driver + " is missing from the class path", e);
        }
        long deadline = System.nanoTime() + OPEN_RETRY_NANOS;
        for (long backoff = 50; ; backoff = Math.min(1_000, backoff * 2)) {
            try (Connection c = java.sql.DriverManager.getConnection(settings.url(), settings.user(),
                    settings.password())) {
                return;
            } catch (SQLException e) {
                if (!openedElsewhereJustNow(e) || System.nanoTime() > deadline) {
                    throw cannotOpen(settings, e);
                }
            }
            try {
                Thread.sleep(backoff);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new SQLException("interrupted while opening the database at " + settings.url(), e);
            }
        }
    }

    private static SQLException cannotOpen(PersistenceSettings settings, Throwable cause) {
        return new SQLException("cannot open the " + settings.backend().name().toLowerCase() + " database at "
                + settings.url() + ": " + cause.getMessage(), cause);
    }

    private static final long OPEN_RETRY_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(20);
    /** H2's "Error opening database" (a lock file recently modified) and "Database may be already in use". */
    private static final java.util.Set<Integer> H2_BUSY = java.util.Set.of(8000, 90020);

    private static boolean openedElsewhereJustNow(SQLException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLException s && H2_BUSY.contains(s.getErrorCode())) {
                return true;
            }
        }
        return false;
    }


    private static Path h2File(String url) {
        return Path.of(url.substring("jdbc:h2:file:".length()).split(";")[0]);
    }

    private static void createParentDirectory(String url) throws SQLException {
        Path parent = h2File(url).getParent();
        if (parent != null) {
            try {
                SecretFile.ownerOnlyDirectory(parent, false);
            } catch (IOException e) {
                throw new SQLException("cannot create the data directory " + parent + ": " + e.getMessage(), e);
            }
        }
    }

    /** The database's files are the owner's only (H2 creates them with the process's umask). */
    private static void ownerOnlyFiles(String url) throws SQLException {
        for (Path f : PersistenceSettings.h2Files(h2File(url))) {
            try {
                SecretFile.ownerOnly(f);
            } catch (IOException e) {
                throw new SQLException("cannot restrict " + f + " to its owner: " + e.getMessage(), e);
            }
        }
    }

    public DataSource dataSource() {
        return pool;
    }

    /**
     * A pool of its own for the leases (two connections, short waits): a busy read side or journal
     * never delays a renewal past a lease's timeout.
     */
    public synchronized DataSource leaseDataSource() {
        if (leasePool == null) {
            HikariConfig config = new HikariConfig();
            config.setJdbcUrl(settings.url());
            config.setUsername(settings.user());
            config.setPassword(settings.password());
            config.setMaximumPoolSize(2);
            config.setMinimumIdle(1);
            config.setConnectionTimeout(2_000);
            config.setPoolName("blockferry-leases");
            config.setAutoCommit(true);
            config.setDriverClassName(settings.backend() == PersistenceSettings.Backend.H2 ? "org.h2.Driver"
                    : "org.postgresql.Driver");
            leasePool = new HikariDataSource(config);
        }
        return leasePool;
    }

    public PersistenceSettings settings() {
        return settings;
    }

    /** Creates what is missing of the schema; safe to run at every start and on every node. */
    public void applySchema() throws SQLException {
        String resource = settings.backend() == PersistenceSettings.Backend.H2 ? "schema/h2.sql" : "schema/postgres.sql";
        List<String> statements = statements(resource);
        SQLException last = null;
        boolean postgres = settings.backend() == PersistenceSettings.Backend.POSTGRES;
        for (int attempt = 0; attempt < 3; attempt++) {
            try (Connection c = pool.getConnection(); Statement s = c.createStatement()) {
                if (postgres) {
                    // Nodes of a cluster starting together: one applies the schema at a time
                    // (PostgreSQL's CREATE TABLE IF NOT EXISTS is not safe against a concurrent one).
                    s.execute("SELECT pg_advisory_lock(" + SCHEMA_LOCK + ")");
                }
                try {
                    for (String sql : statements) {
                        s.execute(sql);
                    }
                } finally {
                    if (postgres) {
                        s.execute("SELECT pg_advisory_unlock(" + SCHEMA_LOCK + ")");
                    }
                }
                log.info("event=schema-applied backend={} statements={}", settings.backend(), statements.size());
                return;
            } catch (SQLException e) {
                // another version's process creating the same table at once: try again, it is there
                last = e;
                try {
                    Thread.sleep(200L * (attempt + 1));
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        throw last;
    }

    static List<String> statements(String resource) {
        try (InputStream in = Database.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException("schema resource " + resource + " is missing from the jar");
            }
            String text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            List<String> out = new ArrayList<>();
            StringBuilder current = new StringBuilder();
            for (String line : text.split("\n")) {
                if (line.strip().startsWith("--")) {
                    continue;
                }
                current.append(line).append('\n');
                if (line.strip().endsWith(";")) {
                    String sql = current.toString().strip();
                    out.add(sql.substring(0, sql.length() - 1));
                    current.setLength(0);
                }
            }
            return out;
        } catch (IOException e) {
            throw new IllegalStateException("cannot read schema resource " + resource, e);
        }
    }

    @Override
    public void close() {
        if (leasePool != null) {
            leasePool.close();
        }
        pool.close();
    }
}
