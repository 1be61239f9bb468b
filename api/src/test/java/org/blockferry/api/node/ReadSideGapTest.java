package org.blockferry.api.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializer;
import org.apache.pekko.serialization.Serializers;
import org.blockferry.engine.actor.JobActor;
import org.blockferry.engine.actor.JobReply;
import org.blockferry.engine.job.JobDocument;
import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.job.JobState;
import org.blockferry.engine.plan.CopyMode;
import org.blockferry.nbd.testing.DiskChecksum;
import org.blockferry.nbd.testing.NbdkitServer;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The read side follows the journal by its ordering column, which a writer takes when it inserts
 * and shows when it commits: a transaction that commits late leaves a gap that later events have
 * already passed. The read journal waits for such a gap to fill for {@code max-tries} ×
 * {@code query-delay} before it assumes the number was never used; an event committed within
 * that window must still reach the read side (a read side that skipped it would show its job
 * wrong for good). Here a writer holds one event's transaction open for a second while another
 * job runs to its end, then commits it.
 */
class ReadSideGapTest {

    @ParameterizedTest
    @EnumSource(TestDatabases.Kind.class)
    void anEventCommittedAfterLaterOnesStillReachesTheReadSide(TestDatabases.Kind db) throws Exception {
        Path dir = TestPeers.scratchDirectory("gap-");
        Journal journal = new Journal(db);
        try (NbdkitServer src = NbdkitServer.start(dir, "sparse-random", "size=4M", "percent=50", "seed=5");
             NbdkitServer dst = NbdkitServer.start(dir, "memory", "size=4M");
             Node node = NodeFixture.start(dir, TestDatabases.create(db, dir), Map.of())) {
            JobSpec late = spec("gap-late", src, dst);
            JobSpec next = spec("gap-next", src, dst);
            try (Connection writer = node.database().dataSource().getConnection()) {
                writer.setAutoCommit(false);
                long ordering = journal.insertSubmitted(node, writer, late);

                JobReply reply = node.jobs().submit(next).toCompletableFuture().get(30, TimeUnit.SECONDS);
                assertInstanceOf(JobReply.Accepted.class, reply);
                JobState done = NodeFixture.awaitFinal(node, next.jobId(), Duration.ofMinutes(1));
                assertEquals(JobState.JobStatus.COMPLETED, done.status(), String.valueOf(done.error()));
                assertEquals(DiskChecksum.ofUri(src.uri()), DiskChecksum.ofUri(dst.uri()));
                assertTrue(journal.maxOrdering(node) > ordering, "the other job's events were written after the open one");
                Thread.sleep(1000); // well past the 250 ms after which the read journal gave up on a gap
                writer.commit();
            }
            JobDocument nextRow = NodeFixture.awaitReadSide(node, next.jobId(), Duration.ofSeconds(30));
            assertEquals("completed", nextRow.status());
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            Optional<JobDocument> lateRow = Optional.empty();
            while (lateRow.isEmpty() && System.nanoTime() < deadline) {
                lateRow = node.queries().get(late.jobId());
                Thread.sleep(50);
            }
            assertEquals("queued", lateRow.map(JobDocument::status).orElse("missing from the read side"),
                    "the event committed late is on the read side");
        }
    }

    private static JobSpec spec(String id, NbdkitServer src, NbdkitServer dst) {
        return new JobSpec(id, "vm-" + id, null, List.of(new JobSpec.Disk("d0", src.uri(), dst.uri())),
                CopyMode.AUTO, null).validated();
    }

    /** The journal's tables as each database names them (H2: quoted lower case, as Slick's H2 profile). */
    private record Journal(TestDatabases.Kind db) {
        String columns(String... names) {
            List<String> out = new java.util.ArrayList<>();
            for (String n : names) {
                out.add(db == TestDatabases.Kind.H2 ? "\"" + n + "\"" : n);
            }
            return String.join(", ", out);
        }

        String journalTable() {
            return db == TestDatabases.Kind.H2 ? "PUBLIC.\"event_journal\"" : "event_journal";
        }

        String tagTable() {
            return db == TestDatabases.Kind.H2 ? "PUBLIC.\"event_tag\"" : "event_tag";
        }

        /** The job's first event, inserted as the journal writes it (tagged), not committed; its ordering. */
        long insertSubmitted(Node node, Connection c, JobSpec spec) throws Exception {
            JobActor.JobSubmitted event = new JobActor.JobSubmitted(spec, null, System.currentTimeMillis());
            Serialization serialization = SerializationExtension.get(Adapter.toClassic(node.system()));
            Serializer serializer = serialization.findSerializerFor(event);
            long ordering;
            String insert = "INSERT INTO " + journalTable() + " (" + columns("deleted", "persistence_id",
                    "sequence_number", "writer", "write_timestamp", "adapter_manifest", "event_payload", "event_ser_id",
                    "event_ser_manifest") + ") VALUES (FALSE, ?, 1, 'test', ?, '', ?, ?, ?)";
            try (PreparedStatement s = c.prepareStatement(insert, new String[] {"ordering"})) {
                s.setString(1, JobActor.TYPE_KEY.name() + "|" + spec.jobId());
                s.setLong(2, System.currentTimeMillis());
                s.setBytes(3, serializer.toBinary(event));
                s.setInt(4, serializer.identifier());
                s.setString(5, Serializers.manifestFor(serializer, event));
                s.executeUpdate();
                try (ResultSet keys = s.getGeneratedKeys()) {
                    keys.next();
                    ordering = keys.getLong(1);
                }
            }
            try (PreparedStatement s = c.prepareStatement("INSERT INTO " + tagTable() + " (" + columns("event_id", "tag")
                    + ") VALUES (?, ?)")) {
                s.setLong(1, ordering);
                s.setString(2, JobActor.TAG);
                s.executeUpdate();
            }
            return ordering;
        }

        long maxOrdering(Node node) throws Exception {
            try (Connection c = node.database().dataSource().getConnection(); Statement s = c.createStatement();
                 ResultSet r = s.executeQuery("SELECT MAX(" + columns("ordering") + ") FROM " + journalTable())) {
                r.next();
                return r.getLong(1);
            }
        }
    }
}
