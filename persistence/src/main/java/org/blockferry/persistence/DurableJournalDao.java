package org.blockferry.persistence;

import java.sql.SQLException;
import java.sql.Statement;
import org.apache.pekko.persistence.jdbc.config.JournalConfig;
import org.apache.pekko.persistence.jdbc.journal.dao.DefaultJournalDao;
import org.apache.pekko.persistence.jdbc.journal.dao.JournalTables.JournalPekkoSerializationRow;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.stream.Materializer;
import scala.Tuple2;
import scala.collection.immutable.Seq;
import scala.collection.immutable.Set;
import scala.concurrent.ExecutionContext;
import scala.concurrent.Future;
import scala.runtime.BoxedUnit;
import slick.jdbc.JdbcBackend;
import slick.jdbc.JdbcProfile;
import slick.jdbc.SimpleJdbcAction;

/**
 * The journal's writes on the embedded H2 database (its {@code jdbc-journal.dao} there, see
 * {@link org.blockferry.persistence.JournalConfig}): a batch of events counts as written — and the
 * job actor answers for it, a submission with 202 — only once it is in H2's file.
 *
 * <p>H2 keeps committed changes in memory and writes them to its file in the background, up to
 * its {@code WRITE_DELAY} (500 ms) later. A node killed with SIGKILL right after accepting a burst
 * of 40 jobs had lost 9 of them at its restart ({@code H2DurabilityTest}). After each batch
 * (pekko-persistence-jdbc groups the events written at the same time into one transaction) this
 * runs H2's {@code CHECKPOINT}, which writes everything committed so far to the file before it
 * returns — a group commit: one file write per batch, not per event. The rest of the database
 * (the read side, which is rebuilt from the journal; snapshots) keeps H2's background writes.
 * {@code WRITE_DELAY=0} gave the same guarantee per commit, but stops H2's background writer and
 * with it the file's compaction: 470 MB after 1000 submitted jobs (bench/README.md).
 *
 * <p>{@code CHECKPOINT} writes to the operating system, without fsync: a node's process dying
 * loses nothing it acknowledged; a crash of the machine itself can lose the last commits.
 */
public final class DurableJournalDao extends DefaultJournalDao {
    /** The signature the journal instantiates its {@code dao} with. */
    public DurableJournalDao(JdbcBackend.JdbcDatabaseDef db, JdbcProfile profile, JournalConfig config,
            Serialization serialization, ExecutionContext ec, Materializer mat) {
        super(db, profile, config, serialization, ec, mat);
    }

    @Override
    public Future<BoxedUnit> writeJournalRows(Seq<Tuple2<JournalPekkoSerializationRow, Set<String>>> rows) {
        return super.writeJournalRows(rows).flatMap(written -> checkpoint(), ec());
    }

    private Future<BoxedUnit> checkpoint() {
        SimpleJdbcAction<BoxedUnit> action = new SimpleJdbcAction<>(ctx -> {
            try (Statement s = ctx.connection().createStatement()) {
                s.execute("CHECKPOINT");
            } catch (SQLException e) {
                throw new IllegalStateException("writing the journal's last events to the database file: "
                        + e.getMessage(), e);
            }
            return BoxedUnit.UNIT;
        });
        return SlickActions.run(db(), action);
    }
}
