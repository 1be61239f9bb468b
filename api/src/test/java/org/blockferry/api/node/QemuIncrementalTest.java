package org.blockferry.api.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.blockferry.engine.actor.JobReply;
import org.blockferry.engine.job.JobDocument;
import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.plan.CopyMode;
import org.blockferry.engine.source.ChangeToken;
import org.blockferry.nbd.testing.DiskChecksum;
import org.blockferry.nbd.testing.QemuNbdServer;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Incremental syncs of local qcow2 images from their persistent dirty bitmaps, through the job
 * path, on H2 and PostgreSQL: one full sync, then copies of only what changed, verified each time.
 */
class QemuIncrementalTest {
    private static final long GIB = 1L << 30;

    private static JobSpec qemuJob(String jobId, Path image, Path target, CopyMode mode) {
        return new JobSpec(jobId, "vm-" + jobId, new JobSpec.Source("qemu"),
                List.of(new JobSpec.Disk("d0", image.toString(), target.toString())), mode, null).validated();
    }

    private static JobDocument sync(Node node, JobSpec spec) throws Exception {
        JobReply reply = node.jobs().submit(spec).toCompletableFuture().get(60, TimeUnit.SECONDS);
        assertInstanceOf(JobReply.Accepted.class, reply, reply.toString());
        return NodeFixture.awaitReadSide(node, spec.jobId(), Duration.ofMinutes(5));
    }

    private static String bitmapOf(JobDocument row) {
        return ChangeToken.parse(row.disks().get(0).changeToken()).orElseThrow().reference();
    }

    @ParameterizedTest // the heaviest test: on H2 (the ten cycles run on PostgreSQL)
    @EnumSource(value = TestDatabases.Kind.class, names = "H2")
    void fullThenIncrementalMovesOnlyTheChangesOfAFourGibDisk(TestDatabases.Kind db) throws Exception {
        Path dir = TestPeers.scratchDirectory("qemu-inc-");
        Path image = Qcow2Images.create(dir, "disk.qcow2", "4G", 25, 41);
        Path target = dir.resolve("target.img");
        try (Node node = NodeFixture.start(dir, TestDatabases.create(db, dir), Map.of())) {
            JobDocument full = sync(node, qemuJob("full-" + db, image, target, CopyMode.AUTO));
            assertEquals("completed", full.status(), full.error());
            JobDocument.Disk first = full.disks().get(0);
            assertEquals("full", first.mode());
            assertTrue(first.modeReason().contains("no change token yet"), first.modeReason());
            assertTrue(first.totalBytes() < 4 * GIB / 3, "total is the data, not the capacity: " + first.totalBytes());
            assertEquals(Qcow2Images.checksum(dir, image), DiskChecksum.ofFile(target));
            String bitmap = bitmapOf(full);
            assertEquals(List.of(bitmap), Qcow2Images.bitmaps(image), "one bitmap records the changes from here on");

            List<Qcow2Images.Write> writes = Qcow2Images.scatter(image, 4 * GIB, 4 * GIB / 100, 7);
            assertTrue(writes.stream().anyMatch(w -> w.kind().equals("zero")) && writes.stream().anyMatch(
                    w -> w.kind().equals("discard")), "zero writes and discards among the changes");
            long changedData = Qcow2Images.dirtyDataBytes(dir, image, bitmap);
            long touched = Qcow2Images.touchedRoundedToGranularity(writes);

            JobDocument inc = sync(node, qemuJob("inc-" + db, image, target, CopyMode.AUTO));
            assertEquals("completed", inc.status(), inc.error());
            JobDocument.Disk d = inc.disks().get(0);
            assertEquals("incremental", d.mode(), d.modeReason());
            assertEquals(changedData, d.totalBytes(), "total_bytes = the changed data, never the capacity");
            assertTrue(d.bytesWritten() + d.bytesZeroed() <= touched, "moved " + (d.bytesWritten() + d.bytesZeroed())
                    + " bytes for " + touched + " changed (rounded to the bitmap's granularity)");
            assertEquals(100.0, inc.progressPercent());
            assertEquals(Qcow2Images.checksum(dir, image), DiskChecksum.ofFile(target));
            String next = bitmapOf(inc);
            assertEquals(List.of(next), Qcow2Images.bitmaps(image), "the previous sync's bitmap was removed");
        }
    }

    @ParameterizedTest
    @EnumSource(value = TestDatabases.Kind.class, names = "POSTGRES")
    void tenSyncCyclesWithWritesInBetweenStayEqual(TestDatabases.Kind db) throws Exception {
        Path dir = TestPeers.scratchDirectory("qemu-cycles-");
        Path image = Qcow2Images.create(dir, "disk.qcow2", "1G", 30, 42);
        Path target = dir.resolve("target.img");
        try (Node node = NodeFixture.start(dir, TestDatabases.create(db, dir), Map.of())) {
            assertEquals("completed", sync(node, qemuJob("c0-" + db, image, target, CopyMode.AUTO)).status());
            for (int cycle = 1; cycle <= 10; cycle++) {
                List<Qcow2Images.Write> writes = Qcow2Images.scatter(image, GIB, 8L << 20, 100 + cycle);
                JobDocument row = sync(node, qemuJob("c" + cycle + "-" + db, image, target, CopyMode.INCREMENTAL));
                assertEquals("completed", row.status(), "cycle " + cycle + ": " + row.error());
                JobDocument.Disk d = row.disks().get(0);
                assertEquals("incremental", d.mode());
                assertTrue(d.bytesWritten() + d.bytesZeroed() <= Qcow2Images.touchedRoundedToGranularity(writes),
                        "cycle " + cycle);
                assertEquals(Qcow2Images.checksum(dir, image), DiskChecksum.ofFile(target), "cycle " + cycle);
            }
            assertEquals(1, Qcow2Images.bitmaps(image).size(), "one bitmap left after ten syncs");
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabases.Kind.class)
    void aBitmapRemovedBehindOurBackMeansFullInAutoAndAnErrorInIncremental(TestDatabases.Kind db) throws Exception {
        Path dir = TestPeers.scratchDirectory("qemu-gone-");
        Path image = Qcow2Images.create(dir, "disk.qcow2", "256M", 40, 43);
        Path target = dir.resolve("target.img");
        try (Node node = NodeFixture.start(dir, TestDatabases.create(db, dir), Map.of())) {
            JobDocument full = sync(node, qemuJob("g0-" + db, image, target, CopyMode.AUTO));
            String bitmap = bitmapOf(full);
            QemuNbdServer.run(Qcow2Images.qemuImg(), "bitmap", "--remove", image.toString(), bitmap);
            Qcow2Images.scatter(image, 256L << 20, 4L << 20, 9);
            String targetBefore = DiskChecksum.ofFile(target);

            JobDocument refused = sync(node, qemuJob("g1-" + db, image, target, CopyMode.INCREMENTAL));
            assertEquals("failed", refused.status());
            assertTrue(refused.error().contains("an incremental sync is not possible: bitmap '" + bitmap
                    + "' is gone"), refused.error());
            assertTrue(refused.error().contains("d0"), "names the disk: " + refused.error());
            // the existing target was exported while the source opened: that export is gone, the file unchanged
            assertEquals(List.of(), serversOf(target), "no server left on the target");
            assertEquals(targetBefore, DiskChecksum.ofFile(target), "the target is unchanged");

            JobDocument auto = sync(node, qemuJob("g2-" + db, image, target, CopyMode.AUTO));
            assertEquals("completed", auto.status(), auto.error());
            assertEquals("full", auto.disks().get(0).mode());
            assertTrue(auto.disks().get(0).modeReason().contains("bitmap '" + bitmap + "' is gone"),
                    auto.disks().get(0).modeReason());
            assertEquals(Qcow2Images.checksum(dir, image), DiskChecksum.ofFile(target));
        }
    }

    /** This JVM's child processes whose command line names {@code file} (an NBD server exporting it). */
    private static List<Long> serversOf(Path file) {
        return ProcessHandle.current().descendants().filter(p -> {
            try {
                return new String(Files.readAllBytes(Path.of("/proc", Long.toString(p.pid()), "cmdline")),
                        java.nio.charset.StandardCharsets.UTF_8).replace('\0', ' ').contains(file.toString());
            } catch (java.io.IOException gone) {
                return false; // it ended while we looked
            }
        }).map(ProcessHandle::pid).toList();
    }

    @ParameterizedTest
    @EnumSource(TestDatabases.Kind.class)
    void badSourcesFailClearlyAndWriteNothing(TestDatabases.Kind db) throws Exception {
        Path dir = TestPeers.scratchDirectory("qemu-bad-");
        Path image = Qcow2Images.create(dir, "disk.qcow2", "64M", 50, 44);
        Path raw = dir.resolve("raw.img");
        Files.write(raw, new byte[1 << 20]);
        try (Node node = NodeFixture.start(dir, TestDatabases.create(db, dir), Map.of());
             QemuNbdServer noBitmap = QemuNbdServer.start(dir, image, "-r", "-f", "qcow2")) {
            record Bad(JobSpec spec, String says) {
            }
            Path target = dir.resolve("never.img");
            Bad[] cases = {
                new Bad(qemuJob("b1-" + db, dir.resolve("missing.qcow2"), target, CopyMode.AUTO), "does not exist"),
                new Bad(qemuJob("b2-" + db, raw, target, CopyMode.AUTO), "is not a qcow2 image"),
                new Bad(new JobSpec("b3-" + db, "vm", new JobSpec.Source("qemu"), List.of(new JobSpec.Disk("d0",
                        noBitmap.uri(), target.toString(), "nightly")), CopyMode.AUTO, null).validated(),
                        "offers no dirty bitmap 'nightly'"),
            };
            for (Bad bad : cases) {
                JobDocument row = sync(node, bad.spec());
                assertEquals("failed", row.status(), bad.says());
                assertTrue(row.error().contains(bad.says()), bad.says() + " -> " + row.error());
                assertTrue(row.error().contains("d0"), row.error());
            }
            assertFalse(Files.exists(target), "no target was created");
        }
        // An image another process holds for writing (a running VM, a writable export).
        try (Node node = NodeFixture.start(dir, TestDatabases.create(db, dir.resolve("db2")), Map.of());
             QemuNbdServer holder = QemuNbdServer.start(dir, image, "-f", "qcow2")) {
            Path target = dir.resolve("never2.img");
            JobDocument row = sync(node, qemuJob("b4-" + db, image, target, CopyMode.AUTO));
            assertEquals("failed", row.status());
            assertTrue(row.error().contains("is locked by another process"), row.error());
            assertFalse(Files.exists(target), "no target was created");
            assertEquals(List.of(), Qcow2Images.bitmaps(image), "no bitmap was added");
        }
    }
}
