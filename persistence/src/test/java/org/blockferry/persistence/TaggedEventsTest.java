package org.blockferry.persistence;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.persistence.jdbc.query.javadsl.JdbcReadJournal;
import org.apache.pekko.persistence.query.EventEnvelope;
import org.apache.pekko.persistence.query.Offset;
import org.apache.pekko.persistence.query.PersistenceQuery;
import org.apache.pekko.persistence.query.Sequence;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.javadsl.CommandHandler;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehavior;
import org.apache.pekko.stream.javadsl.Sink;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The read journals' events by tag ({@link TaggedEventsDao}): exactly the events of the tag
 * after the offset, in the journal's order, through both read journals, on H2 and on PostgreSQL
 * (127.0.0.1:5432, database test); and on H2 a query of the newest events reads those events,
 * not every tagged event ever written.
 */
class TaggedEventsTest {
    private static final Pattern SCANS = Pattern.compile("scanCount: (\\d+)");

    /** Appends its event (a tag, a colon, a name); the tag is the part before the colon, none when empty. */
    record Append(String event, ActorRef<Done> replyTo) {
    }

    static final class Log extends EventSourcedBehavior<Append, String, List<String>> {
        Log(String id) {
            super(PersistenceId.ofUniqueId(id));
        }

        @Override
        public List<String> emptyState() {
            return new ArrayList<>();
        }

        @Override
        public CommandHandler<Append, String, List<String>> commandHandler() {
            return newCommandHandlerBuilder().forAnyState()
                    .onCommand(Append.class, (s, c) -> Effect().persist(c.event()).thenReply(c.replyTo(), x -> Done.done()))
                    .build();
        }

        @Override
        public EventHandler<List<String>, String> eventHandler() {
            return newEventHandlerBuilder().forAnyState().onAnyEvent((s, e) -> {
                s.add(e);
                return s;
            });
        }

        @Override
        public Set<String> tagsFor(String event) {
            String tag = event.substring(0, event.indexOf(':'));
            return tag.isEmpty() ? Set.of() : Set.of(tag);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"h2", "postgres"})
    void eventsByTagAreTheTagsEventsAfterTheOffsetInJournalOrder(String backend) throws Exception {
        PersistenceSettings settings = settings(backend, "tagged");
        try (Database db = Database.open(settings)) {
            db.applySchema();
        }
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "tagged",
                JournalConfig.apply(settings, ConfigFactory.load()));
        try {
            ActorRef<Append> a = system.systemActorOf(new Log("a"), "a", org.apache.pekko.actor.typed.Props.empty());
            ActorRef<Append> b = system.systemActorOf(new Log("b"), "b", org.apache.pekko.actor.typed.Props.empty());
            ActorRef<Append> c = system.systemActorOf(new Log("c"), "c", org.apache.pekko.actor.typed.Props.empty());
            List<String> tagged = new ArrayList<>();
            for (int i = 1; i <= 6; i++) {
                append(system, a, "job:a" + i);
                tagged.add("job:a" + i);
                append(system, b, "other:b" + i);
                append(system, c, ":c" + i);
                if (i % 2 == 0) {
                    append(system, b, "job:b" + i);
                    tagged.add("job:b" + i);
                }
            }
            for (String journal : List.of(JdbcReadJournal.Identifier(), JournalConfig.READ_SIDE_JOURNAL)) {
                List<EventEnvelope> all = byTag(system, journal, "job", Offset.sequence(0), tagged.size());
                assertEquals(tagged, all.stream().map(e -> (String) e.event()).toList(), journal);
                for (int i = 1; i < all.size(); i++) {
                    assertTrue(ordering(all.get(i)) > ordering(all.get(i - 1)), journal + ": in the journal's order");
                }
                List<EventEnvelope> later = byTag(system, journal, "job", all.get(3).offset(), tagged.size() - 4);
                assertEquals(tagged.subList(4, tagged.size()), later.stream().map(e -> (String) e.event()).toList(),
                        journal + ": after the offset only");
                assertEquals(List.of("other:b1", "other:b2", "other:b3", "other:b4", "other:b5", "other:b6"),
                        byTag(system, journal, "other", Offset.sequence(0), 6).stream()
                                .map(e -> (String) e.event()).toList(), journal);
            }
        } finally {
            system.terminate();
            system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
            ScratchDatabases.drop(settings);
        }
    }

    @Test
    void onH2AQueryOfTheNewestEventsReadsThemNotEveryTaggedEvent() throws Exception {
        int events = 20_000;
        try (Database db = Database.open(settings("h2", "scan"))) {
            db.applySchema();
            try (Connection c = db.dataSource().getConnection()) {
                c.setAutoCommit(false);
                try (PreparedStatement j = c.prepareStatement("INSERT INTO \"event_journal\" (\"ordering\","
                        + " \"persistence_id\", \"sequence_number\", \"writer\", \"write_timestamp\","
                        + " \"adapter_manifest\", \"event_payload\", \"event_ser_id\", \"event_ser_manifest\")"
                        + " VALUES (?, ?, ?, 'w', 0, '', X'00', 1, '')");
                     PreparedStatement t = c.prepareStatement("INSERT INTO \"event_tag\" (\"event_id\", \"tag\")"
                             + " VALUES (?, 'job')")) {
                    for (int i = 1; i <= events; i++) {
                        j.setLong(1, i);
                        j.setString(2, "job-" + (i % 500));
                        j.setLong(3, i);
                        j.addBatch();
                        t.setLong(1, i);
                        t.addBatch();
                    }
                    j.executeBatch();
                    t.executeBatch();
                }
                c.commit();
                c.setAutoCommit(true);
                try (Statement s = c.createStatement()) {
                    s.execute("ANALYZE");
                }
                String plan = explainAnalyzed(c, events - 10, events + 40);
                Matcher m = SCANS.matcher(plan);
                long scanned = 0;
                while (m.find()) {
                    scanned += Long.parseLong(m.group(1));
                }
                assertTrue(scanned > 0 && scanned <= 100, "rows read for 10 new events of " + events + ": "
                        + scanned + "\n" + plan);
            }
        }
    }

    private static String explainAnalyzed(Connection c, long offset, long maxOffset) throws Exception {
        try (PreparedStatement s = c.prepareStatement("EXPLAIN ANALYZE " + TaggedEventsDao.BY_TAG)) {
            s.setString(1, "job");
            s.setLong(2, offset);
            s.setLong(3, maxOffset);
            s.setLong(4, offset);
            s.setLong(5, maxOffset);
            s.setInt(6, 500);
            try (ResultSet r = s.executeQuery()) {
                r.next();
                return r.getString(1);
            }
        }
    }

    private static void append(ActorSystem<Void> system, ActorRef<Append> log, String event) throws Exception {
        AskPattern.<Append, Done>ask(log, replyTo -> new Append(event, replyTo), Duration.ofSeconds(10),
                system.scheduler()).toCompletableFuture().get(15, TimeUnit.SECONDS);
    }

    /**
     * The tag's events after {@code offset} once the read journal has seen the journal up to the
     * {@code expected}-th of them (it learns the journal's end every 25-50 ms).
     */
    private static List<EventEnvelope> byTag(ActorSystem<Void> system, String journal, String tag, Offset offset,
            int expected) throws Exception {
        JdbcReadJournal read = PersistenceQuery.get(system).getReadJournalFor(JdbcReadJournal.class, journal);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        List<EventEnvelope> got;
        do {
            got = read.currentEventsByTag(tag, offset).runWith(Sink.seq(), system).toCompletableFuture()
                    .get(10, TimeUnit.SECONDS);
            if (got.size() >= expected) {
                return got;
            }
            Thread.sleep(20);
        } while (System.nanoTime() < deadline);
        return got;
    }

    private static long ordering(EventEnvelope e) {
        return ((Sequence) e.offset()).value();
    }

    private static PersistenceSettings settings(String backend, String label) throws Exception {
        return backend.equals("h2") ? ScratchDatabases.h2(label, 2) : ScratchDatabases.postgres(label, 2);
    }
}
