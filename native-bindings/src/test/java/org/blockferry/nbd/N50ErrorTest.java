package org.blockferry.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.blockferry.nbd.testing.NbdkitServer;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.Test;

/** Band 50: errors carry the operation, libnbd's message and errno, read on the failing thread. */
class N50ErrorTest {
    private final Path dir = TestPeers.scratchDirectory("n50-");

    @Test
    void writeToReadOnlyExportFailsWithEperm() throws Exception {
        try (NbdkitServer server = NbdkitServer.start(dir, "-r", "memory", "size=1M");
             NbdConnection c = NbdConnection.open(server.uri(), NbdOptions.DEFAULT);
             NbdBuffer buf = NbdBuffer.allocate(4096)) {
            NbdException e = assertThrows(NbdException.class, () -> c.pwrite(buf, 0, 4096, 0, 0));
            assertEquals("nbd_pwrite", e.operation());
            assertEquals(1, e.errno(), "EPERM: " + e.getMessage());
        }
    }

    @Test
    void readPastTheEndFailsWithEinval() throws Exception {
        try (NbdkitServer server = NbdkitServer.start(dir, "memory", "size=4096");
             NbdConnection c = NbdConnection.open(server.uri(), NbdOptions.DEFAULT);
             NbdBuffer buf = NbdBuffer.allocate(8192)) {
            NbdException e = assertThrows(NbdException.class, () -> c.pread(buf, 0, 8192, 0));
            assertEquals("nbd_pread", e.operation());
            assertEquals(22, e.errno(), "EINVAL: " + e.getMessage());
            assertTrue(e.getMessage().startsWith("nbd_pread: "), e.getMessage());
        }
    }

    @Test
    void zeroOnServerWithoutZeroSupportFails() throws Exception {
        try (NbdkitServer server = NbdkitServer.start(dir, "--filter=nozero", "memory", "size=1M", "zeromode=none");
             NbdConnection c = NbdConnection.open(server.uri(), NbdOptions.DEFAULT)) {
            assertEquals(false, c.canZero());
            NbdException e = assertThrows(NbdException.class, () -> c.zero(4096, 0, 0));
            assertEquals("nbd_zero", e.operation());
        }
    }

    @Test
    void errorsOnDifferentThreadsStayOnTheirThread() throws Exception {
        try (NbdkitServer server = NbdkitServer.start(dir, "-r", "memory", "size=4096");
             NbdConnection c = NbdConnection.open(server.uri(), NbdOptions.DEFAULT);
             NbdBuffer buf = NbdBuffer.allocate(8192)) {
            NbdException[] seen = new NbdException[2];
            Thread a = new Thread(() -> seen[0] = assertThrows(NbdException.class, () -> c.pwrite(buf, 0, 4096, 0, 0)));
            Thread b = new Thread(() -> seen[1] = assertThrows(NbdException.class, () -> c.pread(buf, 0, 8192, 0)));
            a.start();
            b.start();
            a.join();
            b.join();
            assertEquals(1, seen[0].errno());
            assertEquals(22, seen[1].errno());
        }
    }

    @Test
    void bufferFailsLoudlyAfterClose() {
        NbdBuffer buf = NbdBuffer.allocate(4096);
        buf.close();
        assertThrows(IllegalStateException.class, () -> buf.slice(0, 1));
        assertThrows(IllegalStateException.class, buf::pin);
        buf.close(); // idempotent
        assertThrows(IllegalArgumentException.class, () -> NbdBuffer.allocate(-1));
    }
}
