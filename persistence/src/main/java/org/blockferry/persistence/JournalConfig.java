package org.blockferry.persistence;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.blockferry.engine.endpoint.ConfigValues;
import org.blockferry.engine.endpoint.InvalidInputException;

/**
 * The Pekko settings that put the journal, the snapshot store and the query side on our
 * database (pekko-persistence-jdbc through one shared Slick pool), and the projection dialect.
 */
public final class JournalConfig {
    private static final String DB = "pekko-persistence-jdbc.shared-databases.blockferry";
    /** The read journal of the read side's projection: {@code jdbc-read-journal} polled more often. */
    public static final String READ_SIDE_JOURNAL = "blockferry-read-side-journal";
    /** How long a read journal waits for a gap in the journal's ordering to fill (see {@link #gapWait}). */
    public static final String GAP_WAIT_KEY = "blockferry.persistence.read-side-gap-wait";
    private static final Duration QUERY_DELAY = Duration.ofMillis(50);
    private static final Duration READ_SIDE_QUERY_DELAY = Duration.ofMillis(25);

    private JournalConfig() {
    }

    /** {@code base} with the persistence plugins configured for {@code settings}. */
    public static Config apply(PersistenceSettings settings, Config base) {
        boolean h2 = settings.backend() == PersistenceSettings.Backend.H2;
        Duration gapWait = gapWait(base);
        Map<String, Object> m = new HashMap<>();
        m.put("pekko.persistence.journal.plugin", "jdbc-journal");
        m.put("pekko.persistence.snapshot-store.plugin", "jdbc-snapshot-store");
        m.put("jdbc-journal.use-shared-db", "blockferry");
        if (h2) {
            // An event is acknowledged once it is in H2's file, not only in its memory.
            m.put("jdbc-journal.dao", DurableJournalDao.class.getName());
        }
        m.put("jdbc-snapshot-store.use-shared-db", "blockferry");
        m.put("jdbc-read-journal.use-shared-db", "blockferry");
        m.put("jdbc-durable-state-store.use-shared-db", "blockferry");
        m.put(DB + ".profile", h2 ? "slick.jdbc.H2Profile$" : "slick.jdbc.PostgresProfile$");
        m.put(DB + ".db.url", settings.url());
        m.put(DB + ".db.user", settings.user());
        m.put(DB + ".db.password", settings.password());
        m.put(DB + ".db.driver", h2 ? "org.h2.Driver" : "org.postgresql.Driver");
        m.put(DB + ".db.numThreads", settings.poolSize());
        m.put(DB + ".db.maxConnections", settings.poolSize());
        m.put(DB + ".db.minConnections", 1);
        m.put(DB + ".db.connectionTimeout", 10000);
        // How often the read side asks for new events, and how often the read journal learns the
        // journal's highest ordering without gaps (events reach the read side no sooner): their
        // defaults, 1 s each, were most of the read side's lag. One indexed query per interval each.
        m.put("jdbc-read-journal.refresh-interval", "100ms");
        // Its query of events by tag bounds both tables (the plugin's read every tagged event on H2).
        m.put("jdbc-read-journal.dao", TaggedEventsDao.class.getName());
        m.put("jdbc-read-journal.journal-sequence-retrieval.query-delay", QUERY_DELAY.toMillis() + "ms");
        m.put("jdbc-read-journal.journal-sequence-retrieval.max-tries", tries(gapWait, QUERY_DELAY));
        // The read side's own instance polls faster: it is one query per interval for the whole
        // node (the per-job event streams use the instance above), and its lag is what GET shows.
        // Timers fire on time (PreciseScheduler), where Pekko's default scheduler made 25 ms and
        // 20 ms into 30-40 ms and 20-30 ms: 30 ms and 25 ms keep an idle node's query rate.
        m.put(READ_SIDE_JOURNAL + ".refresh-interval", "30ms");
        m.put(READ_SIDE_JOURNAL + ".journal-sequence-retrieval.query-delay", READ_SIDE_QUERY_DELAY.toMillis() + "ms");
        // Both wait gapWait for a gap: 25 ms × Pekko's 10 tries gave up after 250 ms, and an event
        // committed later than that was lost to the read side for good (ReadSideGapTest).
        m.put(READ_SIDE_JOURNAL + ".journal-sequence-retrieval.max-tries", tries(gapWait, READ_SIDE_QUERY_DELAY));
        m.put("pekko.projection.jdbc.dialect", h2 ? "h2-dialect" : "postgres-dialect");
        m.put("pekko.projection.jdbc.blocking-jdbc-dispatcher.thread-pool-executor.fixed-pool-size",
                settings.poolSize());
        return ConfigFactory.parseMap(toValues(m))
                .withFallback(ConfigFactory.parseString(READ_SIDE_JOURNAL + " = ${jdbc-read-journal}"))
                .withFallback(base).resolve();
    }

    /**
     * How long a read journal waits for a gap in the journal's ordering to fill: a writer takes
     * its number when it inserts and shows it when it commits, so a slow commit leaves a gap that
     * later events have passed. After this wait the number is taken to be unused (a rolled-back
     * write), and anything committed under it later never reaches the read side. The same wait
     * holds the read side back behind a write that never commits, and at every start behind such
     * a gap anywhere in the journal (the read journal learns the order from the journal's start).
     */
    static Duration gapWait(Config base) {
        Duration wait = ConfigValues.duration(base, "", GAP_WAIT_KEY); // its default: reference.conf
        if (wait.compareTo(Duration.ofMillis(100)) < 0 || wait.compareTo(Duration.ofMinutes(10)) > 0) {
            throw new InvalidInputException(GAP_WAIT_KEY, "must be 100ms..10min, got " + wait.toMillis() + " ms");
        }
        return wait;
    }

    private static int tries(Duration gapWait, Duration queryDelay) {
        return (int) Math.max(1, gapWait.toMillis() / queryDelay.toMillis());
    }

    private static Map<String, Object> toValues(Map<String, Object> m) {
        Map<String, Object> out = new HashMap<>();
        m.forEach((k, v) -> out.put(k, ConfigValueFactory.fromAnyRef(v).unwrapped()));
        return out;
    }
}
