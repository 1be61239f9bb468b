package org.blockferry.api.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.persistence.jdbc.query.javadsl.JdbcReadJournal;
import org.apache.pekko.persistence.query.EventEnvelope;
import org.apache.pekko.persistence.query.PersistenceQuery;
import org.apache.pekko.stream.javadsl.Sink;
import org.blockferry.engine.actor.JobActor;
import org.blockferry.engine.job.JobDocument;
import org.blockferry.nbd.testing.DiskChecksum;
import org.blockferry.nbd.testing.NbdkitServer;
import org.blockferry.nbd.testing.TestPeers;
import org.blockferry.persistence.Database;
import org.blockferry.persistence.PersistenceSettings;
import org.blockferry.persistence.readside.JobQueries;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * kill -9 in the middle of a two-disk job, then the same command again: the job resumes by
 * itself from each disk's checkpoint, completes, and both targets equal their sources.
 */
class CrashResumeTest {
    private static final long CHECKPOINT = 64L << 20;
    private static final long CHUNK = 4L << 20;
    private static final int CHUNKS_IN_FLIGHT = 2;

    @ParameterizedTest
    @EnumSource(TestDatabases.Kind.class)
    void killedMidCopyResumesFromCheckpointsAndCompletes(TestDatabases.Kind db) throws Exception {
        Path dir = TestPeers.scratchDirectory("crash-");
        PersistenceSettings database = TestDatabases.create(db, dir);
        String jobId = "crash-" + db;
        try (NbdkitServer s1 = NbdkitServer.start(dir, "sparse-random", "size=1G", "percent=40", "seed=11");
             NbdkitServer s2 = NbdkitServer.start(dir, "sparse-random", "size=1G", "percent=30", "seed=12");
             NbdkitServer t1 = NbdkitServer.start(dir, "--filter=delay", "file", sparseFile(dir, "t1.img"), "wdelay=30ms");
             NbdkitServer t2 = NbdkitServer.start(dir, "--filter=delay", "file", sparseFile(dir, "t2.img"), "wdelay=30ms");
             NbdkitAborts aborts = new NbdkitAborts(s1, s2, t1, t2)) {
            Path jobFile = dir.resolve("job.json");
            Files.writeString(jobFile, "{\"job_id\": \"" + jobId + "\", \"vm\": \"crash-vm\", \"disks\": ["
                    + "{\"id\": \"a\", \"source\": \"" + s1.uri() + "\", \"target\": \"" + t1.uri() + "\"},"
                    + "{\"id\": \"b\", \"source\": \"" + s2.uri() + "\", \"target\": \"" + t2.uri() + "\"}]}");

            Process first = replicate(dir, database, jobFile, "first.log");
            try (Database reader = Database.open(database)) {
                reader.applySchema();
                JobQueries queries = new JobQueries(reader.dataSource(), database.backend());
                awaitMidCopy(queries, jobId, first, dir.resolve("first.log"));
            }
            aborts.clientKilled(() -> {
                first.destroyForcibly(); // SIGKILL: no shutdown hook, no flush, no goodbye
                assertTrue(first.waitFor(30, TimeUnit.SECONDS));
                assertEquals(137, first.exitValue(), "killed by SIGKILL");
            });
            Process second = replicate(dir, database, jobFile, "second.log");
            assertTrue(second.waitFor(5, TimeUnit.MINUTES), "the resumed job finishes");
            aborts.assertNoneUnexplained(); // at most one restart per server, of the kill; none in the resumed run
            assertEquals(0, second.exitValue(), Files.readString(dir.resolve("second.log")));

            assertEquals(DiskChecksum.ofUri(s1.uri()), DiskChecksum.ofFile(dir.resolve("t1.img")));
            assertEquals(DiskChecksum.ofUri(s2.uri()), DiskChecksum.ofFile(dir.resolve("t2.img")));
            assertRecopiedAtMostOneCheckpointInterval(dir, database, jobId);
        }
    }

    private static String sparseFile(Path dir, String name) throws Exception {
        Path file = dir.resolve(name);
        try (var raf = new java.io.RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(1L << 30);
        }
        return file.toString();
    }

    private static Process replicate(Path dir, PersistenceSettings db, Path jobFile, String log) throws Exception {
        return ReplicateProcess.start(dir, db, jobFile, log, Map.of(
                "blockferry.copy.checkpoint-interval", Long.toString(CHECKPOINT),
                "blockferry.copy.chunk-size", Long.toString(CHUNK),
                "blockferry.copy.chunks-in-flight", Integer.toString(CHUNKS_IN_FLIGHT),
                "blockferry.copy.request-size", "1MiB",
                "blockferry.copy.connections", "1",
                "blockferry.copy.progress-interval", "200ms"));
    }

    /** Waits until both disks are well into the copy (past a checkpoint), far from the end. */
    private static void awaitMidCopy(JobQueries queries, String jobId, Process process, Path log) throws Exception {
        ReplicateProcess.awaitRow(queries, jobId, process, log, row -> row.disks().size() == 2 && row.disks().stream()
                .allMatch(d -> d.checkpoint() >= CHECKPOINT && d.bytesTransferred() < d.totalBytes() * 8 / 10));
    }

    /** From the journal: what each disk copied again after the restart. */
    private static void assertRecopiedAtMostOneCheckpointInterval(Path dir, PersistenceSettings db, String jobId)
            throws Exception {
        try (Node node = NodeFixture.start(dir, db, Map.of())) {
            JdbcReadJournal journal = PersistenceQuery.get(node.system()).getReadJournalFor(JdbcReadJournal.class,
                    JdbcReadJournal.Identifier());
            List<EventEnvelope> events = journal.currentEventsByPersistenceId("ReplicationJob|" + jobId, 0,
                    Long.MAX_VALUE).runWith(Sink.seq(), node.system()).toCompletableFuture().get(60, TimeUnit.SECONDS);
            Map<String, Long> recopied = new HashMap<>();
            for (EventEnvelope e : events) {
                if (e.event() instanceof JobActor.DiskResumed r) {
                    recopied.merge(r.disk(), r.bytesDoneBefore() - r.checkpoint().bytesDone(), Long::sum);
                }
            }
            assertEquals(2, recopied.size(), "both disks resumed (not restarted from zero): " + recopied);
            for (var entry : recopied.entrySet()) {
                // The checkpoint trails the copy by at most one interval, plus the chunks in flight.
                assertTrue(entry.getValue() <= CHECKPOINT + CHUNK * CHUNKS_IN_FLIGHT,
                        "disk " + entry.getKey() + " copied " + entry.getValue() + " bytes again");
            }
            JobDocument row = node.queries().get(jobId).orElseThrow();
            for (JobDocument.Disk d : row.disks()) {
                // the read side's figure (what bench/crash-resume.sh prints) agrees with the journal
                assertEquals(recopied.get(d.id()), d.bytesRecopied(), "bytes_recopied of " + d.id());
                assertTrue(d.resumes() >= 1, "resumes of " + d.id());
            }
            assertEquals("completed", row.status());
            assertEquals(100.0, row.progressPercent());
        }
    }
}
