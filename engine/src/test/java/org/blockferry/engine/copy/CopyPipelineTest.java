package org.blockferry.engine.copy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.blockferry.engine.copy.CopyProgress.Phase;
import org.blockferry.engine.testing.EngineTestKit;
import org.blockferry.engine.testing.Images;
import org.blockferry.nbd.testing.DiskChecksum;
import org.blockferry.nbd.testing.NbdkitLog;
import org.blockferry.nbd.testing.NbdkitServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The copy pipeline against real nbdkit servers: every test proves the target's bytes equal
 * the source's (checksums read by nbdcopy, independent of our binding).
 */
class CopyPipelineTest {
    private static EngineTestKit kit;
    private static Path dir;

    @BeforeAll
    static void start() {
        kit = new EngineTestKit("pipeline");
        dir = kit.dir();
    }

    @AfterAll
    static void stop() {
        kit.close();
    }

    @Test
    void denseDiskIsCopiedExactly() throws Exception {
        try (NbdkitServer source = NbdkitServer.start(dir, "sparse-random", "size=96M", "percent=100", "seed=1",
                "random-content=true");
             NbdkitServer target = NbdkitServer.start(dir, "memory", "size=96M", "allocator=malloc")) {
            CopyResult r = kit.copy(source.uri(), target.uri(), kit.settings());
            assertEquals(96L << 20, r.progress().plannedBytes());
            assertEquals(96L << 20, r.progress().bytesWritten());
            assertEquals(0, r.progress().bytesSkipped());
            assertEquals(DiskChecksum.ofUri(source.uri()), DiskChecksum.ofUri(target.uri()));
        }
    }

    @Test
    void sparseDiskPlansOnlyAllocatedBytesAndNeverReadsHoles() throws Exception {
        Path log = dir.resolve("sparse-source.log");
        try (NbdkitServer source = NbdkitServer.start(dir, "--filter=log", "sparse-random", "size=256M",
                "percent=25", "runlength=2097152", "seed=2", "logfile=" + log);
             NbdkitServer target = NbdkitServer.start(dir, "memory", "size=256M")) {
            EngineTestKit.Running running = kit.start(source.uri(), target.uri(), kit.settings());
            CopyResult r = running.await();
            running.close();
            CopyProgress p = r.progress();
            assertTrue(p.plannedBytes() > 0 && p.plannedBytes() < p.capacity() / 2,
                    "planned bytes are the allocated data, not the capacity: " + p);
            assertEquals(p.capacity(), p.plannedBytes() + p.bytesSkipped());
            assertEquals(p.plannedBytes(), p.bytesDone());
            assertEquals(100.0, p.percent());
            long read = NbdkitLog.bytes(NbdkitLog.requests(log), "Read");
            assertEquals(p.plannedBytes(), read, "exactly the planned (allocated) bytes are read, holes never");
            assertEquals(DiskChecksum.ofUri(source.uri()), DiskChecksum.ofUri(target.uri()));
            assertProgressNeverExceedsPlan(running.progress());
        }
    }

    @Test
    void allZeroSourceZeroesADirtyTarget() throws Exception {
        try (NbdkitServer source = NbdkitServer.start(dir, "memory", "size=40M");
             NbdkitServer target = NbdkitServer.start(dir, "memory", "size=40M", "allocator=malloc")) {
            fillWithGarbage(target.uri());
            CopyResult r = kit.copy(source.uri(), target.uri(), kit.settings());
            assertEquals(0, r.progress().plannedBytes());
            assertEquals(40L << 20, r.progress().bytesSkipped());
            assertEquals(40L << 20, r.zeroSentBytes(), "a dirty target gets every hole zeroed");
            assertEquals(100.0, r.progress().percent());
            assertEquals(DiskChecksum.ofZeros(40L << 20), DiskChecksum.ofUri(target.uri()));
        }
    }

    @Test
    void halfZeroChunkWritesOnlyItsDataHalf() throws Exception {
        // One 4 MiB chunk: 2 MiB of data, then 2 MiB of written (allocated) zeros.
        Path image = Images.sparse(dir.resolve("half.img"), 4L << 20, 3).data(0, 2L << 20).zeros(2L << 20, 2L << 20)
                .close();
        Path log = dir.resolve("half-target.log");
        try (NbdkitServer target = NbdkitServer.start(dir, "--filter=log", "memory", "size=4M", "allocator=malloc",
                "logfile=" + log)) {
            fillWithGarbage(target.uri());
            long before = NbdkitLog.requests(log).size();
            CopyResult r = kit.copy(image.toString(), target.uri(), kit.settings());
            List<NbdkitLog.Request> requests = NbdkitLog.requests(log).subList((int) before,
                    NbdkitLog.requests(log).size());
            assertEquals(4L << 20, r.progress().plannedBytes(), "the zeros are allocated, so planned");
            assertEquals(2L << 20, r.progress().bytesWritten());
            assertEquals(2L << 20, r.progress().bytesZeroed());
            assertEquals(2L << 20, NbdkitLog.bytes(requests, "Write"), "only the data half goes as data");
            assertEquals(2L << 20, NbdkitLog.bytes(requests, "Zero"), "the zero half goes as NBD zero");
            assertEquals(DiskChecksum.ofFile(image), DiskChecksum.ofUri(target.uri()));
        }
    }

    @Test
    void zerosInsideDataAreFoundWhenTheServerReportsNoExtents() throws Exception {
        // noextents: the whole disk is "data", zeros must be read and detected.
        Path image = Images.sparse(dir.resolve("noext.img"), 24L << 20, 4).data(0, 3L << 20)
                .data(10L << 20, 1L << 20).data(20L << 20, 512 << 10).close();
        try (NbdkitServer source = NbdkitServer.start(dir, "--filter=noextents", "file", image.toString());
             NbdkitServer target = NbdkitServer.start(dir, "memory", "size=24M")) {
            CopyResult r = kit.copy(source.uri(), target.uri(), kit.settings());
            assertEquals(24L << 20, r.progress().plannedBytes());
            assertEquals((4L << 20) + (512 << 10), r.progress().bytesWritten());
            assertEquals(0, r.zeroSentBytes(), "the fresh memory target reads as zero: nothing to send");
            assertEquals(DiskChecksum.ofFile(image), DiskChecksum.ofUri(target.uri()));
        }
    }

    @Test
    void oddAndTinySizesAreCopiedExactly() throws Exception {
        for (long size : new long[] {0, 1, 511, 4097, (4L << 20) + 1, (9L << 20) - 3}) {
            Path image = Images.sparse(dir.resolve("odd-" + size + ".img"), size, size).data(0, size).close();
            Path copy = dir.resolve("odd-" + size + "-copy.img");
            CopyResult r = kit.copy(image.toString(), copy.toString(), kit.settings());
            assertEquals(size, r.progress().plannedBytes(), "size " + size);
            assertEquals(100.0, r.progress().percent(), "size " + size);
            assertEquals(size, java.nio.file.Files.size(copy), "size " + size);
            assertEquals(DiskChecksum.ofFile(image), DiskChecksum.ofFile(copy), "size " + size);
        }
    }

    @Test
    void targetPrefilledWithGarbageEndsEqualToSource() throws Exception {
        Path image = Images.sparse(dir.resolve("mixed.img"), (32L << 20) + 4095, 5)
                .data(0, 5L << 20).zeros(5L << 20, 3L << 20).data(12L << 20, 100_000).data(30L << 20, 2L << 20)
                .close();
        try (NbdkitServer target = NbdkitServer.start(dir, "memory", "size=33M", "allocator=malloc")) {
            fillWithGarbage(target.uri());
            CopyResult r = kit.copy(image.toString(), target.uri(), kit.settings());
            assertTrue(r.zeroSentBytes() > 0, "holes were zeroed on the dirty target");
            long size = (32L << 20) + 4095;
            assertEquals(DiskChecksum.ofFile(image), checksumOfPrefix(target.uri(), size));
        }
    }

    @Test
    void freshTargetGetsNoZeroWrites() throws Exception {
        Path image = Images.sparse(dir.resolve("fresh-src.img"), 48L << 20, 6).data(0, 4L << 20)
                .zeros(4L << 20, 4L << 20).data(40L << 20, 1L << 20).close();
        Path log = dir.resolve("fresh-target.log");
        try (NbdkitServer target = NbdkitServer.start(dir, "--filter=log", "memory", "size=48M",
                "logfile=" + log)) {
            CopyResult r = kit.copy(image.toString(), target.uri(), kit.settings());
            assertEquals(48L << 20, r.targetKnownZeroBytes(), "block status says the target is all zero");
            assertEquals(0, r.zeroSentBytes());
            assertEquals(0, NbdkitLog.bytes(NbdkitLog.requests(log), "Zero"));
            assertEquals(5L << 20, NbdkitLog.bytes(NbdkitLog.requests(log), "Write"));
            assertEquals(DiskChecksum.ofFile(image), DiskChecksum.ofUri(target.uri()));
        }
    }

    @Test
    void usesSeveralConnectionsOnlyWhenTheServerAllowsMultiConn() throws Exception {
        try (NbdkitServer multi = NbdkitServer.start(dir, "sparse-random", "size=32M", "percent=60", "seed=7");
             NbdkitServer single = NbdkitServer.start(dir, "--filter=multi-conn", "sparse-random", "size=32M",
                     "percent=60", "seed=7", "multi-conn-mode=disable");
             NbdkitServer t1 = NbdkitServer.start(dir, "memory", "size=32M");
             NbdkitServer t2 = NbdkitServer.start(dir, "--filter=multi-conn", "memory", "size=32M",
                     "multi-conn-mode=disable")) {
            CopyResult on = kit.copy(multi.uri(), t1.uri(), kit.settings().withConnections(4));
            CopyResult off = kit.copy(single.uri(), t2.uri(), kit.settings().withConnections(4));
            assertEquals(4, on.sourceConnections());
            assertEquals(4, on.targetConnections());
            assertEquals(1, off.sourceConnections());
            assertEquals(1, off.targetConnections());
            String expected = DiskChecksum.ofUri(multi.uri());
            assertEquals(expected, DiskChecksum.ofUri(t1.uri()));
            assertEquals(expected, DiskChecksum.ofUri(t2.uri()));
        }
    }

    @Test
    void qcow2SourceAndTargetAreExportedByQemuNbd() throws Exception {
        Path raw = Images.sparse(dir.resolve("for-qcow2.img"), 20L << 20, 8).data(1L << 20, 3L << 20)
                .zeros(8L << 20, 1L << 20).data(19L << 20, 4096).close();
        Path qcow2 = dir.resolve("source.qcow2");
        Path copy = dir.resolve("copy.qcow2");
        String qemuImg = org.blockferry.nbd.testing.TestPeers.require("qemu-img", "qemu-utils");
        org.blockferry.nbd.testing.QemuNbdServer.run(qemuImg, "convert", "-q", "-f", "raw", "-O", "qcow2",
                raw.toString(), qcow2.toString());
        org.blockferry.nbd.testing.QemuNbdServer.run(qemuImg, "create", "-q", "-f", "qcow2", copy.toString(), "20M");
        CopyResult r = kit.copy(qcow2.toString(), copy.toString(), kit.settings());
        assertTrue(r.progress().plannedBytes() < (20L << 20), "qcow2 allocation is honoured: " + r.progress());
        Path back = dir.resolve("copy-as-raw.img");
        org.blockferry.nbd.testing.QemuNbdServer.run(qemuImg, "convert", "-q", "-f", "qcow2", "-O", "raw",
                copy.toString(), back.toString());
        assertEquals(DiskChecksum.ofFile(raw), DiskChecksum.ofFile(back));
    }

    @Test
    void slowTargetBoundsTheBuffersInFlight() throws Exception {
        try (EngineTestKit small = new EngineTestKit("bounded", 3);
             NbdkitServer source = NbdkitServer.start(dir, "sparse-random", "size=48M", "percent=100", "seed=9");
             NbdkitServer target = NbdkitServer.start(dir, "--filter=delay", "memory", "size=48M", "wdelay=20ms")) {
            CopyResult r = small.copy(source.uri(), target.uri(), small.settings().withChunksInFlight(8));
            assertTrue(small.environment().pool().created() <= 3,
                    "never more buffers than the budget: " + small.environment().pool().created());
            assertEquals(3, small.environment().pool().available(), "every buffer came back");
            assertEquals(48L << 20, r.progress().bytesWritten());
            assertEquals(DiskChecksum.ofUri(source.uri()), DiskChecksum.ofUri(target.uri()));
        }
    }

    @Test
    void progressReachesListenersWhileCopyingAndEndsAtExactlyHundred() throws Exception {
        try (NbdkitServer source = NbdkitServer.start(dir, "sparse-random", "size=64M", "percent=50", "seed=10");
             NbdkitServer target = NbdkitServer.start(dir, "--filter=delay", "memory", "size=64M", "wdelay=50ms");
             EngineTestKit.Running running = kit.start(source.uri(), target.uri(),
                     kit.settings().withConnections(1).withChunksInFlight(1))) {
            CopyResult r = running.await();
            List<CopyProgress> seen = running.progress();
            assertTrue(seen.size() >= 2, "periodic progress plus the final one: " + seen.size());
            CopyProgress last = seen.get(seen.size() - 1);
            assertEquals(Phase.DONE, last.phase());
            assertEquals(100.0, last.percent());
            assertEquals(last.capacity(), last.checkpoint(), "the final checkpoint covers the whole disk");
            assertEquals(r.progress().plannedBytes(), last.plannedBytes());
            assertProgressNeverExceedsPlan(seen);
            assertEquals(DiskChecksum.ofUri(source.uri()), DiskChecksum.ofUri(target.uri()));
        }
    }

    static void assertProgressNeverExceedsPlan(List<CopyProgress> seen) {
        long lastDone = 0;
        long lastCheckpoint = 0;
        for (CopyProgress p : seen) {
            assertTrue(p.bytesDone() >= lastDone, "bytes done only grow");
            assertTrue(p.checkpoint() >= lastCheckpoint, "the checkpoint only moves forward");
            assertTrue(p.bytesDone() <= p.plannedBytes(), "never more than planned: " + p);
            assertTrue(p.phase() == Phase.DONE || p.percent() < 100.0, "100 % only at the end: " + p);
            lastDone = p.bytesDone();
            lastCheckpoint = p.checkpoint();
        }
    }

    /** Fills an export with random bytes (nbdcopy from nbdkit's random plugin). */
    static void fillWithGarbage(String uri) throws Exception {
        String nbdcopy = org.blockferry.nbd.testing.TestPeers.require("nbdcopy", "libnbd-bin");
        String nbdkit = org.blockferry.nbd.testing.TestPeers.require("nbdkit", "nbdkit");
        long size;
        try (var c = org.blockferry.nbd.NbdConnection.open(uri, org.blockferry.nbd.NbdOptions.DEFAULT)) {
            size = c.size();
        }
        org.blockferry.nbd.testing.QemuNbdServer.run(nbdcopy, "--", "[", nbdkit, "random", "size=" + size, "]", uri);
    }

    private static String checksumOfPrefix(String uri, long size) throws Exception {
        Path copy = dir.resolve("prefix-" + System.nanoTime() + ".img");
        String nbdcopy = org.blockferry.nbd.testing.TestPeers.require("nbdcopy", "libnbd-bin");
        org.blockferry.nbd.testing.QemuNbdServer.run(nbdcopy, uri, copy.toString());
        return DiskChecksum.ofFile(copy, size);
    }
}
