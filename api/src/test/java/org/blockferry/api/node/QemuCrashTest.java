package org.blockferry.api.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
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
 * An incremental sync of a qcow2 killed with SIGKILL mid-copy: started again it resumes and
 * completes, and the next sync after more guest writes is exact too.
 */
class QemuCrashTest {
    private static final long GIB = 1L << 30;
    private static final Map<String, String> SMALL_STEPS = Map.of(
            "blockferry.copy.checkpoint-interval", "32MiB", "blockferry.copy.chunk-size", "4MiB",
            "blockferry.copy.request-size", "1MiB", "blockferry.copy.connections", "1",
            "blockferry.copy.chunks-in-flight", NodeFixture.CHUNKS_IN_FLIGHT, "blockferry.copy.progress-interval", "200ms");

    @ParameterizedTest
    @EnumSource(TestDatabases.Kind.class)
    void anIncrementalSyncKilledMidWayResumesAndTheNextSyncIsExact(TestDatabases.Kind db) throws Exception {
        Path dir = TestPeers.scratchDirectory("qemu-crash-");
        PersistenceSettings database = TestDatabases.create(db, dir);
        Path image = Qcow2Images.create(dir, "disk.qcow2", "1G", 20, 45);
        Path targetFile = dir.resolve("target.img");
        try (var raf = new java.io.RandomAccessFile(targetFile.toFile(), "rw")) {
            raf.setLength(GIB);
        }
        try (NbdkitServer target = NbdkitServer.start(dir, "--filter=delay", "file", targetFile.toString(),
                "wdelay=200ms"); // a sync of 300 MiB lasts seconds: long enough to be killed mid-copy
             NbdkitAborts aborts = new NbdkitAborts(target)) {
            runToCompletion(dir, database, job(dir, "sync1-" + db, image, target.uri()), "sync1.log");

            Qcow2Images.scatter(image, GIB, 300L << 20, 46); // a big change set: the kill lands mid-copy
            Path sync2 = job(dir, "sync2-" + db, image, target.uri());
            Process first = ReplicateProcess.start(dir, database, sync2, "sync2-first.log", SMALL_STEPS);
            try (Database reader = Database.open(database)) {
                reader.applySchema();
                awaitMidCopy(new JobQueries(reader.dataSource(), database.backend()), "sync2-" + db, first,
                        dir.resolve("sync2-first.log"));
            }
            aborts.clientKilled(() -> {
                first.destroyForcibly();
                assertTrue(first.waitFor(30, TimeUnit.SECONDS));
            });
            runToCompletion(dir, database, sync2, "sync2-second.log");
            aborts.assertNoneUnexplained(); // the target may have died of the kill, once; not in the resumed run
            assertEquals(Qcow2Images.checksum(dir, image), DiskChecksum.ofFile(targetFile), "after the resumed sync");
            try (Database reader = Database.open(database)) {
                String reason = new JobQueries(reader.dataSource(), database.backend()).get("sync2-" + db).orElseThrow()
                        .disks().get(0).modeReason();
                assertTrue(reason.contains("-sync1-" + db + "'"), "the kill landed before the sync recorded its"
                        + " token, so the resumed sync copies the changes since sync1's bitmap: " + reason);
            }

            Qcow2Images.scatter(image, GIB, 16L << 20, 47);
            runToCompletion(dir, database, job(dir, "sync3-" + db, image, target.uri()), "sync3.log");
            assertEquals(Qcow2Images.checksum(dir, image), DiskChecksum.ofFile(targetFile), "after the next sync");
            try (Database reader = Database.open(database)) {
                JobDocument row = new JobQueries(reader.dataSource(), database.backend()).get("sync3-" + db).orElseThrow();
                assertEquals("incremental", row.disks().get(0).mode(), row.disks().get(0).modeReason());
            }
            assertEquals(1, Qcow2Images.bitmaps(image).size(), "one bitmap left: " + Qcow2Images.bitmaps(image));
            aborts.assertNoneUnexplained();
        }
    }

    private static Path job(Path dir, String id, Path image, String target) throws Exception {
        Path file = dir.resolve(id + ".json");
        Files.writeString(file, "{\"job_id\": \"" + id + "\", \"vm\": \"crash-vm\", \"source\": {\"kind\": \"qemu\"},"
                + " \"disks\": [{\"id\": \"d0\", \"source\": \"" + image + "\", \"target\": \"" + target + "\"}]}");
        return file;
    }

    private static void runToCompletion(Path dir, PersistenceSettings db, Path jobFile, String log) throws Exception {
        Process p = ReplicateProcess.start(dir, db, jobFile, log, SMALL_STEPS);
        assertTrue(p.waitFor(5, TimeUnit.MINUTES), "replicate " + jobFile + " finishes");
        assertEquals(0, p.exitValue(), Files.readString(dir.resolve(log)));
    }

    /** Every disk syncs incrementally, past a checkpoint, far from the end. */
    private static void awaitMidCopy(JobQueries queries, String jobId, Process process, Path log) throws Exception {
        ReplicateProcess.awaitRow(queries, jobId, process, log, row -> row.disks().stream()
                .allMatch(d -> "incremental".equals(d.mode()) && d.checkpoint() > 0
                        && d.bytesTransferred() < d.totalBytes() * 8 / 10));
    }
}
