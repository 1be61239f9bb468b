package org.blockferry.persistence;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.util.Map;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.junit.jupiter.api.Test;

/**
 * {@code blockferry.persistence.read-side-gap-wait}: both read journals wait that long for a gap
 * in the journal's ordering (their tries times their query delays), and a bad value is refused
 * naming the setting.
 */
class JournalConfigTest {
    private static final PersistenceSettings H2 = PersistenceSettings.h2(Path.of("target", "unused"), 2);
    private static final String READ_SIDE = JournalConfig.READ_SIDE_JOURNAL + ".journal-sequence-retrieval.";
    private static final String EVENTS = "jdbc-read-journal.journal-sequence-retrieval.";

    @Test
    void bothReadJournalsWaitTheGapWaitForAGap() {
        Config byDefault = JournalConfig.apply(H2, ConfigFactory.load());
        assertEquals(10_000, waited(byDefault, READ_SIDE), "the default: 10 s, as Pekko's own");
        assertEquals(10_000, waited(byDefault, EVENTS));
        assertEquals(25, byDefault.getDuration(READ_SIDE + "query-delay").toMillis(), "the read side still polls fast");

        Config shorter = JournalConfig.apply(H2, with("1500ms"));
        assertEquals(1500, waited(shorter, READ_SIDE));
        assertEquals(1500, waited(shorter, EVENTS));
    }

    @Test
    void aGapWaitThatIsNotADurationOrOutOfRangeIsRefusedNamingTheSetting() {
        Map<String, String> refusals = Map.of("\"soon\"", "must be a duration such as 10s",
                "50ms", "must be 100ms..10min, got 50 ms", "0s", "must be 100ms..10min, got 0 ms",
                "-1s", "must be 100ms..10min, got -1000 ms", "11m", "must be 100ms..10min, got 660000 ms");
        refusals.forEach((bad, said) -> {
            InvalidInputException e = assertThrows(InvalidInputException.class, () -> JournalConfig.apply(H2, with(bad)),
                    bad);
            assertEquals(JournalConfig.GAP_WAIT_KEY, e.field(), bad);
            assertTrue(e.getMessage().contains(said), bad + ": " + e.getMessage());
        });
    }

    /** H2 acknowledges an event once it is in the file (DurableJournalDao); PostgreSQL's commit already is. */
    @Test
    void onlyTheEmbeddedDatabaseWritesTheJournalThroughTheDurableDao() {
        assertEquals(DurableJournalDao.class.getName(),
                JournalConfig.apply(H2, ConfigFactory.load()).getString("jdbc-journal.dao"));
        PersistenceSettings postgres = PersistenceSettings.postgres("jdbc:postgresql://127.0.0.1:5432/test", "test",
                "", 2);
        assertEquals(org.apache.pekko.persistence.jdbc.journal.dao.DefaultJournalDao.class.getName(),
                JournalConfig.apply(postgres, ConfigFactory.load()).getString("jdbc-journal.dao"));
    }

    private static long waited(Config c, String prefix) {
        return c.getInt(prefix + "max-tries") * c.getDuration(prefix + "query-delay").toMillis();
    }

    private static Config with(String gapWait) {
        return ConfigFactory.parseString(JournalConfig.GAP_WAIT_KEY + " = " + gapWait).withFallback(ConfigFactory.load());
    }
}
