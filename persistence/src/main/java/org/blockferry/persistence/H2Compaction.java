package org.blockferry.persistence;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.h2.engine.SessionLocal;
import org.h2.jdbc.JdbcConnection;
import org.h2.mvstore.MVStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps an embedded H2 file near the size of its data. With {@code WRITE_DELAY=0} (see
 * {@link PersistenceSettings#H2_OPTIONS}) H2 writes each commit as it happens but runs no
 * background writer, and so never rewrites the chunks that commits leave mostly dead: a burst of
 * 1000 submitted jobs left a 470 MB file for 13 MB of data, and a loop of commits grew the file by
 * ~65 MB a second without end. Every {@link #EVERY} this compacts the file for at most
 * {@link #MAX_MILLIS} (H2's own {@code MVStore.compactFile}, as at close) when less than
 * {@link #BELOW_FILL_PERCENT} % of the chunks' bytes are live; commits wait while it runs.
 *
 * <p>Only the process that has the file open runs it; one that reaches the file through another
 * process's auto-server (a {@code blockferry jobs} beside a node) has nothing to compact.
 */
final class H2Compaction implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(H2Compaction.class);
    static final Duration EVERY = Duration.ofSeconds(1);
    static final int MAX_MILLIS = 100;
    static final int BELOW_FILL_PERCENT = 60;

    private final MVStore store;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "h2-compaction");
        t.setDaemon(true);
        return t;
    });

    private H2Compaction(MVStore store) {
        this.store = store;
        timer.scheduleWithFixedDelay(this::compactIfSparse, EVERY.toMillis(), EVERY.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Started when this process holds the file open (its sessions are local); otherwise null. */
    static H2Compaction startIfOwner(DataSource pool) throws SQLException {
        try (Connection c = pool.getConnection()) {
            if (c.unwrap(JdbcConnection.class).getSession() instanceof SessionLocal local) {
                return new H2Compaction(local.getDatabase().getStore().getMvStore());
            }
            return null;
        }
    }

    /** One round: the store's live share of its chunks, and a bounded compaction if it is low. */
    void compactIfSparse() {
        try {
            if (store.isClosed()) {
                timer.shutdown();
                return;
            }
            if (store.getFileStore().getChunksFillRate() < BELOW_FILL_PERCENT) {
                store.compactFile(MAX_MILLIS);
            }
        } catch (RuntimeException e) {
            if (store.isClosed()) {
                timer.shutdown(); // closed while it ran
                return;
            }
            log.warn("event=h2-compaction-failed reason={}", e.toString());
        }
    }

    /**
     * Stops the rounds and waits for one that is running: never by interrupting it, since a
     * thread interrupted inside a FileChannel operation closes the channel (and H2's file with it).
     */
    @Override
    public void close() {
        timer.shutdown();
        try {
            timer.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
