package org.blockferry.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.blockferry.nbd.testing.NbdkitServer;
import org.blockferry.nbd.testing.ProcessMappings;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.Test;

/**
 * Band 45: buffers backed by transparent huge pages — their own mapping, advised, zero-filled,
 * usable by libnbd, and unmapped only once the buffer and every view of it are gone.
 */
class N45HugePageBufferTest {
    private final Path dir = TestPeers.scratchDirectory("n45-");

    @Test
    void aHugePageBufferIsAnAdvisedMappingOfItsOwnZeroFilledAndUsable() throws Exception {
        int size = 2 * NbdBuffer.HUGE_PAGE;
        try (NbdBuffer buf = NbdBuffer.allocate(size, true)) {
            long address = buf.address(0, size);
            ProcessMappings.Mapping m = ProcessMappings.at(address);
            assertNotNull(m, "a mapping at " + Long.toHexString(address));
            assertTrue(m.flags().contains("hg"), "advised for huge pages (MADV_HUGEPAGE): " + m.flags());
            assertEquals(address, m.start(), "its own mapping, from its first byte");
            ByteBuffer all = buf.slice(0, size).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < size; i += 8) {
                if (all.getLong(i) != 0) {
                    throw new AssertionError("not zero-filled at " + i);
                }
            }
            all.putLong(size - 8, 0x0123456789abcdefL);
            assertEquals(0x0123456789abcdefL, buf.slice(size - 8, 8).order(ByteOrder.LITTLE_ENDIAN).getLong());
        }
    }

    @Test
    void smallBuffersAndPlainOnesAreJvmDirectMemory() throws Exception {
        try (NbdBuffer small = NbdBuffer.allocate(NbdBuffer.HUGE_PAGE - 4096, true);
             NbdBuffer plain = NbdBuffer.allocate(2 * NbdBuffer.HUGE_PAGE, false)) {
            for (NbdBuffer b : List.of(small, plain)) {
                ProcessMappings.Mapping m = ProcessMappings.at(b.address(0, b.size()));
                assertNotNull(m);
                assertFalse(m.flags().contains("hg"), "not advised: " + m.flags());
            }
        }
    }

    @Test
    void libnbdReadsIntoAHugePageBuffer() throws Exception {
        int size = 2 * NbdBuffer.HUGE_PAGE;
        try (NbdkitServer server = NbdkitServer.start(dir, "pattern", "size=16M");
             NbdEventLoop loop = NbdEventLoop.start("test-loop", Duration.ofSeconds(30));
             NbdBuffer buf = NbdBuffer.allocate(size, true)) {
            AsyncConnection c = loop.attach(NbdConnection.open(server.uri(), NbdOptions.DEFAULT));
            long offset = 8L << 20;
            c.pread(buf, 0, size, offset).get(30, TimeUnit.SECONDS);
            ByteBuffer data = buf.slice(0, size).order(ByteOrder.BIG_ENDIAN);
            for (int i = 0; i < size; i += 8) { // nbdkit's pattern: each 8 bytes hold their own offset
                if (data.getLong(i) != offset + i) {
                    throw new AssertionError("byte " + (offset + i) + ": " + Long.toHexString(data.getLong(i)));
                }
            }
            c.close().get(30, TimeUnit.SECONDS);
        }
    }

    @Test
    void theMappingOutlivesTheBufferWhileAViewIsReachableAndIsUnmappedAfter() throws Exception {
        NbdBuffer buf = NbdBuffer.allocate(NbdBuffer.HUGE_PAGE, true);
        long address = buf.address(0, buf.size());
        ByteBuffer view = buf.slice(4096, 4096);
        buf.close();
        buf = null;
        for (int i = 0; i < 5; i++) {
            System.gc();
            Thread.sleep(20);
        }
        assertNotNull(ProcessMappings.at(address), "still mapped: a view refers to it");
        view.put(0, (byte) 7); // and still usable memory
        assertEquals(7, view.get(0));
        view = null;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        ProcessMappings.Mapping m = ProcessMappings.at(address);
        while (m != null && m.flags().contains("hg") && m.start() == address && System.nanoTime() < deadline) {
            System.gc();
            Thread.sleep(50);
            m = ProcessMappings.at(address);
        }
        assertTrue(m == null || m.start() != address || !m.flags().contains("hg"),
                "unmapped once unreachable: " + m);
    }
}
