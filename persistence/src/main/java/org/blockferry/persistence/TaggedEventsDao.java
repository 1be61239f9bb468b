package org.blockferry.persistence;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import org.apache.pekko.NotUsed;
import org.apache.pekko.persistence.PersistentRepr;
import org.apache.pekko.persistence.jdbc.PekkoSerialization;
import org.apache.pekko.persistence.jdbc.config.ReadJournalConfig;
import org.apache.pekko.persistence.jdbc.journal.dao.JournalTables.JournalPekkoSerializationRow;
import org.apache.pekko.persistence.jdbc.query.dao.DefaultReadJournalDao;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.scaladsl.Source;
import scala.Option;
import scala.Tuple3;
import scala.collection.immutable.Set;
import scala.collection.immutable.Set$;
import scala.concurrent.ExecutionContext;
import scala.jdk.javaapi.FutureConverters;
import scala.util.Try;
import slick.jdbc.JdbcBackend;
import slick.jdbc.JdbcProfile;
import slick.jdbc.SimpleJdbcAction;

/**
 * The read journals' queries (configured as {@code dao} of both read journals,
 * {@link JournalConfig}), with the query of events by tag written so that no database reads
 * every tagged event to find the few new ones.
 *
 * <p>pekko-persistence-jdbc's own query joins the journal, as a derived table, with
 * {@code event_tag} and bounds only the journal's side by the range of orderings asked for. H2
 * 2.x starts that join from {@code event_tag} (its only condition there, the tag, matches every
 * row: all job events carry one tag) and looks each row up in the derived table: every query
 * for new events read every tagged event ever written, 5 ms at 10,000 events and 55 ms at
 * 100,000 on this machine (bench/README.md), so a long-lived node's read side fell further behind
 * the more it had done. Here the range bounds both tables, so either order reads only the events
 * in it; the rows and their decoding are the plugin's own.
 */
public final class TaggedEventsDao extends DefaultReadJournalDao {
    static final String BY_TAG = "SELECT j.\"ordering\", j.\"deleted\", j.\"persistence_id\","
            + " j.\"sequence_number\", j.\"writer\", j.\"write_timestamp\", j.\"adapter_manifest\","
            + " j.\"event_payload\", j.\"event_ser_id\", j.\"event_ser_manifest\", j.\"meta_payload\","
            + " j.\"meta_ser_id\", j.\"meta_ser_manifest\""
            + " FROM \"event_journal\" j JOIN \"event_tag\" t ON t.\"event_id\" = j.\"ordering\""
            + " WHERE t.\"tag\" = ? AND t.\"event_id\" > ? AND t.\"event_id\" <= ?"
            + " AND j.\"ordering\" > ? AND j.\"ordering\" <= ? AND j.\"deleted\" = FALSE"
            + " ORDER BY j.\"ordering\" LIMIT ?";

    private final Serialization serialization;

    /** The signature the read journal instantiates its {@code dao} with. */
    public TaggedEventsDao(JdbcBackend.JdbcDatabaseDef db, JdbcProfile profile, ReadJournalConfig config,
            Serialization serialization, ExecutionContext ec, Materializer mat) {
        super(db, profile, config, serialization, ec, mat);
        this.serialization = serialization;
    }

    @Override
    public Source<Try<Tuple3<PersistentRepr, Set<String>, Object>>, NotUsed> eventsByTag(String tag, long offset,
            long maxOffset, long max) {
        SimpleJdbcAction<List<JournalPekkoSerializationRow>> query = new SimpleJdbcAction<>(
                ctx -> rows(ctx.connection(), tag, offset, maxOffset, max));
        Set<String> noTags = Set$.MODULE$.empty();
        return org.apache.pekko.stream.javadsl.Source
                .completionStage(FutureConverters.asJava(SlickActions.run(db(), query)))
                .mapConcat(rows -> rows)
                .map(row -> PekkoSerialization.fromRow(serialization, row)
                        .map(decoded -> new Tuple3<>(decoded._1(), noTags, decoded._2())))
                .asScala();
    }

    private static List<JournalPekkoSerializationRow> rows(Connection c, String tag, long offset, long maxOffset,
            long max) {
        try (PreparedStatement s = c.prepareStatement(BY_TAG)) {
            s.setString(1, tag);
            s.setLong(2, offset);
            s.setLong(3, maxOffset);
            s.setLong(4, offset);
            s.setLong(5, maxOffset);
            s.setInt(6, (int) Math.min(max, Integer.MAX_VALUE));
            List<JournalPekkoSerializationRow> rows = new ArrayList<>();
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    rows.add(row(r));
                }
            }
            return rows;
        } catch (SQLException e) {
            throw new IllegalStateException("reading the journal's events by tag: " + e.getMessage(), e);
        }
    }

    private static JournalPekkoSerializationRow row(ResultSet r) throws SQLException {
        int metaSerId = r.getInt(12);
        Option<Object> metaSer = r.wasNull() ? Option.empty() : Option.apply(metaSerId);
        return new JournalPekkoSerializationRow(r.getLong(1), r.getBoolean(2), r.getString(3), r.getLong(4),
                r.getString(5), r.getLong(6), r.getString(7), r.getBytes(8), r.getInt(9), r.getString(10),
                Option.apply(r.getBytes(11)), metaSer, Option.apply(r.getString(13)));
    }
}
