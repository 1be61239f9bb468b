package org.blockferry.nbd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Random;
import org.blockferry.nbd.testing.NbdkitServer;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.Test;

/** Band 20: synchronous pread, pwrite, zero, trim and flush against real servers. */
class N20SyncIoTest {
    private final Path dir = TestPeers.scratchDirectory("n20-");

    @Test
    void readsThePatternPluginsKnownContent() throws Exception {
        // nbdkit pattern: each 8-byte word holds its own offset, big-endian.
        try (NbdkitServer server = NbdkitServer.start(dir, "pattern", "size=1M");
             NbdConnection c = NbdConnection.open(server.uri(), NbdOptions.DEFAULT);
             NbdBuffer buf = NbdBuffer.allocate(64 * 1024)) {
            c.pread(buf, 0, 64 * 1024, 512 * 1024);
            ByteBuffer view = buf.slice(0, 64 * 1024).order(ByteOrder.BIG_ENDIAN);
            for (int i = 0; i < 64 * 1024; i += 8) {
                assertEquals(512 * 1024 + i, view.getLong(i));
            }
        }
    }

    @Test
    void writtenBytesReadBack() throws Exception {
        byte[] data = new byte[300_001];
        new Random(7).nextBytes(data);
        try (NbdkitServer server = NbdkitServer.start(dir, "memory", "size=1M");
             NbdConnection c = NbdConnection.open(server.uri(), NbdOptions.DEFAULT);
             NbdBuffer out = NbdBuffer.allocate(data.length);
             NbdBuffer in = NbdBuffer.allocate(data.length)) {
            out.slice(0, data.length).put(data);
            c.pwrite(out, 0, data.length, 4095, NbdConnection.CMD_FLAG_FUA);
            c.flush();
            c.pread(in, 0, data.length, 4095);
            byte[] back = new byte[data.length];
            in.slice(0, data.length).get(back);
            assertArrayEquals(data, back);
        }
    }

    @Test
    void zeroAndTrimMakeRangesReadAsZero() throws Exception {
        try (NbdkitServer server = NbdkitServer.start(dir, "memory", "size=1M");
             NbdConnection c = NbdConnection.open(server.uri(), NbdOptions.DEFAULT)) {
            ByteBuffer ones = ByteBuffer.allocateDirect(1 << 20);
            while (ones.hasRemaining()) {
                ones.put((byte) 0x5a);
            }
            ones.flip();
            c.pwrite(ones, 0, 0);
            c.zero(65536, 4096, 0);
            c.trim(65536, 131072, 0); // nbdkit memory: trimmed ranges read as zeros
            ByteBuffer back = ByteBuffer.allocateDirect(1 << 20);
            c.pread(back, 0);
            for (int i = 0; i < (1 << 20); i++) {
                boolean zeroed = (i >= 4096 && i < 4096 + 65536) || (i >= 131072 && i < 131072 + 65536);
                assertEquals(zeroed ? 0 : 0x5a, back.get(i) & 0xff, "byte " + i);
            }
        }
    }

    @Test
    void directByteBufferReadsAtItsPosition() throws Exception {
        try (NbdkitServer server = NbdkitServer.start(dir, "pattern", "size=4096");
             NbdConnection c = NbdConnection.open(server.uri(), NbdOptions.DEFAULT)) {
            ByteBuffer buf = ByteBuffer.allocateDirect(32).order(ByteOrder.BIG_ENDIAN);
            buf.position(8).limit(16);
            c.pread(buf, 1024);
            assertEquals(0, buf.getLong(0), "bytes before the position are untouched");
            assertEquals(1024, buf.getLong(8));
        }
    }
}
