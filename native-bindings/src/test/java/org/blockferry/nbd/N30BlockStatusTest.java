package org.blockferry.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import org.blockferry.nbd.testing.NbdkitServer;
import org.blockferry.nbd.testing.QemuNbdServer;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.Test;

/** Band 30: block status through the by-value extent callback, for base:allocation and dirty bitmaps. */
class N30BlockStatusTest {
    private final Path dir = TestPeers.scratchDirectory("n30-");

    @Test
    void baseAllocationShowsWrittenDataAndHoles() throws Exception {
        try (NbdkitServer server = NbdkitServer.start(dir, "memory", "size=64M");
             NbdConnection c = NbdConnection.open(server.uri(),
                     NbdOptions.DEFAULT.withMetaContexts(List.of(NbdConnection.BASE_ALLOCATION)))) {
            assertTrue(c.canMetaContext(NbdConnection.BASE_ALLOCATION));
            ByteBuffer data = ByteBuffer.allocateDirect(1 << 20);
            while (data.hasRemaining()) {
                data.put((byte) 1);
            }
            data.flip();
            c.pwrite(data, 8L << 20, 0);
            List<NbdExtent> extents = collect(c, NbdConnection.BASE_ALLOCATION, 64L << 20);
            assertCovers(extents, 0, 64L << 20);
            for (NbdExtent e : extents) {
                boolean written = e.offset() < (9L << 20) && e.end() > (8L << 20);
                assertEquals(!written, e.isZero() && e.isHole(), "extent " + e);
            }
        }
    }

    @Test
    void sparseRandomReportsManyExtentsCoveringTheDisk() throws Exception {
        try (NbdkitServer server = NbdkitServer.start(dir, "sparse-random", "size=1G", "percent=25",
                "runlength=1048576", "seed=42");
             NbdConnection c = NbdConnection.open(server.uri(),
                     NbdOptions.DEFAULT.withMetaContexts(List.of(NbdConnection.BASE_ALLOCATION)))) {
            List<NbdExtent> extents = collect(c, NbdConnection.BASE_ALLOCATION, 1L << 30);
            assertCovers(extents, 0, 1L << 30);
            long data = extents.stream().filter(e -> !e.isZero()).mapToLong(NbdExtent::length).sum();
            assertTrue(extents.size() > 100, "expected many extents, got " + extents.size());
            double percent = 100.0 * data / (1L << 30);
            assertTrue(percent > 15 && percent < 35, "about 25 % data expected, got " + percent);
        }
    }

    @Test
    void serverWithoutExtentsDoesNotAgreeToBaseAllocation() throws Exception {
        try (NbdkitServer server = NbdkitServer.start(dir, "--filter=noextents", "memory", "size=1M");
             NbdConnection c = NbdConnection.open(server.uri(),
                     NbdOptions.DEFAULT.withMetaContexts(List.of(NbdConnection.BASE_ALLOCATION)))) {
            // nbdkit still negotiates the context but reports a single data extent
            List<NbdExtent> extents = collect(c, NbdConnection.BASE_ALLOCATION, 1 << 20);
            assertCovers(extents, 0, 1 << 20);
            assertFalse(extents.get(0).isZero());
        }
    }

    @Test
    void qemuDirtyBitmapMarksOnlyChangedRanges() throws Exception {
        String qemuImg = TestPeers.require("qemu-img", "qemu-utils");
        String qemuIo = TestPeers.require("qemu-io", "qemu-utils");
        Path image = dir.resolve("disk.qcow2");
        QemuNbdServer.run(qemuImg, "create", "-q", "-f", "qcow2", image.toString(), "64M");
        QemuNbdServer.run(qemuIo, "-c", "write -P 1 0 4M", image.toString());
        QemuNbdServer.run(qemuImg, "bitmap", "--add", image.toString(), "b0");
        QemuNbdServer.run(qemuIo, "-c", "write -P 2 16M 1M", "-c", "write -P 3 40M 64k", image.toString());
        String context = "qemu:dirty-bitmap:b0";
        try (QemuNbdServer server = QemuNbdServer.start(dir, image, "-r", "-f", "qcow2", "-B", "b0");
             NbdConnection c = NbdConnection.open(server.uri(),
                     NbdOptions.DEFAULT.withMetaContexts(List.of(NbdConnection.BASE_ALLOCATION, context)))) {
            assertTrue(c.canMetaContext(context));
            List<NbdExtent> extents = collect(c, context, 64L << 20);
            assertCovers(extents, 0, 64L << 20);
            long dirty = 0;
            for (NbdExtent e : extents) {
                if ((e.flags() & NbdExtent.STATE_DIRTY) != 0) {
                    dirty += e.length();
                    boolean inFirst = e.offset() >= (16L << 20) && e.end() <= (17L << 20);
                    boolean inSecond = e.offset() >= (40L << 20) && e.end() <= (40L << 20) + 65536;
                    assertTrue(inFirst || inSecond, "unexpected dirty extent " + e);
                }
            }
            assertEquals((1L << 20) + 65536, dirty);
        }
    }

    static List<NbdExtent> collect(NbdConnection c, String context, long size) throws NbdException {
        List<NbdExtent> all = new java.util.ArrayList<>();
        long offset = 0;
        while (offset < size) {
            List<NbdExtent> part = c.blockStatus(context, offset, size - offset);
            assertFalse(part.isEmpty(), "server returned no extents at " + offset);
            all.addAll(part);
            offset = part.get(part.size() - 1).end();
        }
        return all;
    }

    static void assertCovers(List<NbdExtent> extents, long from, long to) {
        long expected = from;
        for (NbdExtent e : extents) {
            assertEquals(expected, e.offset(), "extents must be contiguous");
            expected = e.end();
        }
        assertEquals(to, expected);
    }
}
