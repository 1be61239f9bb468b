package org.blockferry.nbd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.blockferry.nbd.testing.DiskChecksum;
import org.blockferry.nbd.testing.NbdkitServer;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.Test;

/** Band 40: asynchronous requests through the event loop: many in flight, zero, flush, close. */
class N40AsyncIoTest {
    private final Path dir = TestPeers.scratchDirectory("n40-");

    @Test
    void manyReadsInFlightReturnThePattern() throws Exception {
        int request = 256 * 1024;
        int count = 64;
        try (NbdkitServer server = NbdkitServer.start(dir, "pattern", "size=64M");
             NbdEventLoop loop = NbdEventLoop.start("test-loop", Duration.ofSeconds(30));
             NbdBuffer buf = NbdBuffer.allocate(request * count)) {
            AsyncConnection c = loop.attach(NbdConnection.open(server.uri(), NbdOptions.DEFAULT));
            List<CompletableFuture<Void>> reads = new ArrayList<>();
            // The loop is held while the reads are submitted: none can be issued or answered
            // before the check, and once let go it issues all of them before it reaps any.
            CountDownLatch held = new CountDownLatch(1);
            CountDownLatch letGo = new CountDownLatch(1);
            loop.execute(() -> {
                held.countDown();
                awaitQuietly(letGo);
            }, new CompletableFuture<>());
            try {
                assertTrue(held.await(30, TimeUnit.SECONDS), "the loop runs the holding task");
                for (int i = 0; i < count; i++) {
                    reads.add(c.pread(buf, i * request, request, (long) i * request * 3));
                }
                assertEquals(count, buf.pins(), "each submitted request pins the buffer");
                assertEquals(0, reads.stream().filter(CompletableFuture::isDone).count(), "none answered yet");
            } finally {
                letGo.countDown();
            }
            CompletableFuture.allOf(reads.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
            assertEquals(0, buf.pins(), "every completed request unpins its buffer");
            ByteBuffer view = buf.slice(0, request * count).order(ByteOrder.BIG_ENDIAN);
            for (int i = 0; i < count; i++) {
                long diskOffset = (long) i * request * 3;
                for (int j = 0; j < request; j += 4096) {
                    assertEquals(diskOffset + j, view.getLong(i * request + j));
                }
            }
            c.close().get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void connectionsSharingOneLoopEachGetTheirRepliesWhileTheOthersWait() throws Exception {
        // Four connections on one loop, the server's replies delayed, requests submitted in
        // uneven waves from another thread: in most poll rounds one connection has news and the
        // others only wait. Writes of 1 MiB do not fit in the socket at once, so a connection's
        // direction changes from writing to reading inside a notification: a loop that polled a
        // connection for a direction read before that would fail here (libnbd refuses the
        // notification: "external event 1 is invalid in state READY").
        // Every request must complete, and the disk must hold what was written.
        int piece = 1 << 20;
        int pieces = 24;
        int connections = 4;
        byte[] data = new byte[piece * pieces];
        new Random(17).nextBytes(data);
        try (NbdkitServer server = NbdkitServer.start(dir, "--filter=delay", "memory", "size=" + data.length,
                "delay-write=2ms", "delay-read=2ms");
             NbdEventLoop loop = NbdEventLoop.start("shared-loop", Duration.ofSeconds(30));
             NbdBuffer out = NbdBuffer.allocate(data.length);
             NbdBuffer in = NbdBuffer.allocate(data.length)) {
            out.slice(0, data.length).put(data);
            List<AsyncConnection> conns = new ArrayList<>();
            for (int i = 0; i < connections; i++) {
                conns.add(loop.attach(NbdConnection.open(server.uri(), NbdOptions.DEFAULT)));
            }
            List<CompletableFuture<Void>> writes = new ArrayList<>();
            List<CompletableFuture<Void>> reads = new ArrayList<>();
            int next = 0;
            for (int wave = 0; next < pieces; wave++) {
                // Wave w has requests on connections 0..(w % 4) only: the others stay quiet.
                for (int i = 0; i <= wave % connections && next < pieces; i++, next++) {
                    writes.add(conns.get(i).pwrite(out, next * piece, piece, (long) next * piece, 0));
                }
                Thread.sleep(wave % 3); // some waves land while replies are pending, some after
            }
            CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
            for (int p = 0; p < pieces; p++) {
                // Reads back in the reverse spread: the last connections get the most.
                reads.add(conns.get(connections - 1 - p % (1 + p % connections)).pread(in, p * piece, piece,
                        (long) p * piece));
            }
            CompletableFuture.allOf(reads.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
            assertEquals(0, out.pins() + in.pins(), "every completed request unpins its buffer");
            byte[] back = new byte[data.length];
            in.slice(0, data.length).get(back);
            assertArrayEquals(data, back, "the reads return what the writes sent");
            assertEquals(sha256(data), DiskChecksum.ofUri(server.uri()));
            for (AsyncConnection c : conns) {
                c.close().get(10, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void writesZeroesAndFlushOverSeveralConnectionsGiveTheExpectedDisk() throws Exception {
        int size = 8 << 20;
        byte[] data = new byte[size];
        new Random(11).nextBytes(data);
        for (int i = 2 << 20; i < 3 << 20; i++) {
            data[i] = 0; // this MiB goes as an NBD zero, not as data
        }
        try (NbdkitServer server = NbdkitServer.start(dir, "memory", "size=" + size);
             NbdEventLoop loop1 = NbdEventLoop.start("l1", Duration.ofSeconds(30));
             NbdEventLoop loop2 = NbdEventLoop.start("l2", Duration.ofSeconds(30));
             NbdBuffer buf = NbdBuffer.allocate(size)) {
            buf.slice(0, size).put(data);
            AsyncConnection a = loop1.attach(NbdConnection.open(server.uri(), NbdOptions.DEFAULT));
            AsyncConnection b = loop2.attach(NbdConnection.open(server.uri(), NbdOptions.DEFAULT));
            List<CompletableFuture<Void>> ops = new ArrayList<>();
            int piece = 1 << 20;
            for (int i = 0; i < size / piece; i++) {
                AsyncConnection c = i % 2 == 0 ? a : b;
                ops.add(i == 2 ? c.zero(piece, (long) i * piece, 0) : c.pwrite(buf, i * piece, piece, (long) i * piece, 0));
            }
            CompletableFuture.allOf(ops.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
            CompletableFuture.allOf(a.flush(), b.flush()).get(30, TimeUnit.SECONDS);
            assertEquals(sha256(data), DiskChecksum.ofUri(server.uri()));
            a.close().get(10, TimeUnit.SECONDS);
            b.close().get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void readErrorFromServerFailsOnlyThatRequestWithItsErrno() throws Exception {
        // The error filter fails every read in [0, 64k) with EIO; others succeed.
        try (NbdkitServer server = NbdkitServer.start(dir, "--filter=error", "pattern", "size=1M",
                "error-pread=EIO", "error-pread-rate=100%", "error-pread-file=" + dir.resolve("always"));
             NbdEventLoop loop = NbdEventLoop.start("err-loop", Duration.ofSeconds(30));
             NbdBuffer buf = NbdBuffer.allocate(8192)) {
            java.nio.file.Files.writeString(dir.resolve("always"), "x");
            AsyncConnection c = loop.attach(NbdConnection.open(server.uri(), NbdOptions.DEFAULT));
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> c.pread(buf, 0, 4096, 0).get(30, TimeUnit.SECONDS));
            NbdException cause = assertInstanceOf(NbdException.class, e.getCause());
            assertEquals("nbd_aio_command_completed", cause.operation());
            assertEquals(5, cause.errno(), "EIO: " + cause.getMessage());
            assertEquals(0, buf.pins());
            java.nio.file.Files.delete(dir.resolve("always"));
            c.pread(buf, 0, 4096, 4096).get(30, TimeUnit.SECONDS); // connection still usable
            assertEquals(4096, buf.slice(0, 8).order(ByteOrder.BIG_ENDIAN).getLong(0));
            c.close().get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void unansweredRequestTimesOutAndBreaksTheConnection() throws Exception {
        try (NbdkitServer server = NbdkitServer.start(dir, "--filter=delay", "memory", "size=1M", "rdelay=20");
             NbdEventLoop loop = NbdEventLoop.start("slow-loop", Duration.ofSeconds(1));
             NbdBuffer buf = NbdBuffer.allocate(4096)) {
            AsyncConnection c = loop.attach(NbdConnection.open(server.uri(), NbdOptions.DEFAULT));
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> c.pread(buf, 0, 4096, 0).get(30, TimeUnit.SECONDS));
            NbdException cause = assertInstanceOf(NbdException.class, e.getCause());
            assertEquals(NbdException.ETIMEDOUT, cause.errno(), cause.getMessage());
            assertEquals(1, buf.pins(), "libnbd may still write into the buffer until the handle is closed");
            assertThrows(IllegalStateException.class, buf::close);
            ExecutionException later = assertThrows(ExecutionException.class,
                    () -> c.zero(4096, 0, 0).get(30, TimeUnit.SECONDS));
            assertEquals(cause, later.getCause(), "a broken connection fails later requests with its cause");
            c.close().get(10, TimeUnit.SECONDS);
            assertEquals(0, buf.pins(), "closing the handle releases the buffer");
        }
    }

    @Test
    void serverKilledMidRequestFailsPendingRequests() throws Exception {
        NbdkitServer server = NbdkitServer.start(dir, "--filter=delay", "memory", "size=1M", "rdelay=5");
        try (NbdEventLoop loop = NbdEventLoop.start("kill-loop", Duration.ofSeconds(60));
             NbdBuffer buf = NbdBuffer.allocate(4096)) {
            AsyncConnection c = loop.attach(NbdConnection.open(server.uri(), NbdOptions.DEFAULT));
            CompletableFuture<Void> read = c.pread(buf, 0, 4096, 0);
            Thread.sleep(300);
            server.kill();
            ExecutionException e = assertThrows(ExecutionException.class, () -> read.get(30, TimeUnit.SECONDS));
            assertInstanceOf(NbdException.class, e.getCause());
            c.close().get(10, TimeUnit.SECONDS);
            assertEquals(0, buf.pins());
        } finally {
            server.close();
        }
    }

    @Test
    void connectionsSayingGoodbyeToASlowServerHoldUpNoOtherConnectionOfTheirLoop() throws Exception {
        // The server keeps each connection 2 s after the client's NBD_CMD_DISC (delay-close).
        // Four connections of one loop are closed: when each close waited on the loop for the
        // server (up to 100 ms), a read on another connection of the loop, submitted right after
        // them, waited for all four (>= 400 ms). Now it is answered at once, each close ends at its
        // 100 ms deadline (not the server's 2 s), and the server got every goodbye.
        try (NbdkitServer slow = NbdkitServer.start(dir, "-v", "--filter=delay", "memory", "size=1M",
                "delay-close=2");
             NbdkitServer other = NbdkitServer.start(dir, "memory", "size=1M");
             NbdEventLoop loop = NbdEventLoop.start("goodbye", Duration.ofSeconds(30));
             NbdBuffer buf = NbdBuffer.allocate(4096)) {
            List<AsyncConnection> closing = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                AsyncConnection c = loop.attach(NbdConnection.open(slow.uri(), NbdOptions.DEFAULT));
                c.pread(buf, 0, 4096, 0).get(10, TimeUnit.SECONDS);
                closing.add(c);
            }
            AsyncConnection busy = loop.attach(NbdConnection.open(other.uri(), NbdOptions.DEFAULT));
            busy.pread(buf, 0, 4096, 0).get(10, TimeUnit.SECONDS);

            long start = System.nanoTime();
            List<CompletableFuture<Void>> closes = new ArrayList<>();
            for (AsyncConnection c : closing) {
                closes.add(c.close());
            }
            busy.pread(buf, 0, 4096, 0).get(10, TimeUnit.SECONDS);
            long readMillis = (System.nanoTime() - start) / 1_000_000;
            CompletableFuture.allOf(closes.toArray(CompletableFuture[]::new)).get(10, TimeUnit.SECONDS);
            long closeMillis = (System.nanoTime() - start) / 1_000_000;

            assertTrue(readMillis < 250, "a read behind four goodbyes took " + readMillis + " ms");
            assertTrue(closeMillis < 1000, "four goodbyes took " + closeMillis + " ms (the server holds 2 s)");
            for (AsyncConnection c : closing) {
                assertTrue(c.connection().isClosed(), "closed after its goodbye");
            }
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (slow.logText().split("client sent NBD_CMD_DISC", -1).length - 1 < 4
                    && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertEquals(4, slow.logText().split("client sent NBD_CMD_DISC", -1).length - 1, slow.logText());
            busy.pread(buf, 0, 4096, 0).get(10, TimeUnit.SECONDS);
            busy.close().get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void closingTheLoopFailsRequestsSubmittedAfterwards() throws Exception {
        try (NbdkitServer server = NbdkitServer.start(dir, "memory", "size=1M");
             NbdBuffer buf = NbdBuffer.allocate(4096)) {
            NbdEventLoop loop = NbdEventLoop.start("closing", Duration.ofSeconds(30));
            AsyncConnection c = loop.attach(NbdConnection.open(server.uri(), NbdOptions.DEFAULT));
            loop.close();
            assertTrue(c.connection().isClosed(), "the loop closes its connections on the way out");
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> c.pread(buf, 0, 4096, 0).get(10, TimeUnit.SECONDS));
            assertInstanceOf(NbdException.class, e.getCause());
            assertEquals(0, buf.pins());
        }
    }

    @Test
    void aGracefulStopWaitsForTheRepliesInFlightAndSubmitsNothingNew() throws Exception {
        // reads sleep 400 ms in the server; 8 of them are in flight when the loop is asked to stop
        try (NbdkitServer server = NbdkitServer.start(dir, "--filter=delay", "pattern", "size=1M", "rdelay=400ms");
             NbdBuffer buf = NbdBuffer.allocate(8 * 4096)) {
            NbdEventLoop loop = NbdEventLoop.start("graceful", Duration.ofSeconds(30));
            AsyncConnection c = loop.attach(NbdConnection.open(server.uri(), NbdOptions.DEFAULT));
            List<CompletableFuture<Void>> reads = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                reads.add(c.pread(buf, i * 4096, 4096, i * 4096L));
            }
            long t0 = System.nanoTime();
            loop.stopAfterReplies(Duration.ofSeconds(20));
            ExecutionException refused = assertThrows(ExecutionException.class,
                    () -> c.pread(buf, 0, 4096, 0).get(10, TimeUnit.SECONDS));
            assertInstanceOf(NbdException.class, refused.getCause(), "nothing new once the loop stops");
            loop.close();
            long ms = (System.nanoTime() - t0) / 1_000_000;
            for (CompletableFuture<Void> r : reads) {
                assertTrue(r.isDone() && !r.isCompletedExceptionally(), "every read in flight got its reply");
            }
            assertEquals(4096, buf.slice(4096, 8).order(ByteOrder.BIG_ENDIAN).getLong(0), "the pattern");
            assertTrue(ms >= 300 && ms < 10_000, "the stop waited for the replies, not for the grace: " + ms + " ms");
            assertTrue(c.connection().isClosed());
            assertTrue(server.isAlive(), "the server saw an orderly end: " + server.logText());
            assertEquals(0, buf.pins());
        }
    }

    @Test
    void aGracefulStopGivesUpOnRepliesAfterItsGrace() throws Exception {
        try (NbdkitServer server = NbdkitServer.start(dir, "--filter=delay", "memory", "size=1M", "rdelay=20");
             NbdBuffer buf = NbdBuffer.allocate(4096)) {
            NbdEventLoop loop = NbdEventLoop.start("impatient", Duration.ofSeconds(60));
            AsyncConnection c = loop.attach(NbdConnection.open(server.uri(), NbdOptions.DEFAULT));
            CompletableFuture<Void> read = c.pread(buf, 0, 4096, 0); // answered after 20 s
            long t0 = System.nanoTime();
            loop.stopAfterReplies(Duration.ofMillis(300));
            loop.close();
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(ms >= 250 && ms < 5_000, "the stop waited for its grace, then closed: " + ms + " ms");
            ExecutionException e = assertThrows(ExecutionException.class, () -> read.get(10, TimeUnit.SECONDS));
            assertInstanceOf(NbdException.class, e.getCause());
            assertEquals(0, buf.pins());
        }
    }

    private static String sha256(byte[] data) throws Exception {
        return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(data));
    }

    @Test
    void bufferRangeIsCheckedBeforeSubmission() throws Exception {
        try (NbdkitServer server = NbdkitServer.start(dir, "memory", "size=1M");
             NbdEventLoop loop = NbdEventLoop.start("range", Duration.ofSeconds(30));
             NbdBuffer buf = NbdBuffer.allocate(4096)) {
            AsyncConnection c = loop.attach(NbdConnection.open(server.uri(), NbdOptions.DEFAULT));
            assertThrows(IndexOutOfBoundsException.class, () -> c.pread(buf, 1, 4096, 0));
            assertEquals(0, buf.pins());
            byte[] back = new byte[16];
            c.pread(buf, 0, 4096, 0).get(10, TimeUnit.SECONDS);
            buf.slice(0, 16).get(back);
            assertArrayEquals(new byte[16], back);
            c.close().get(10, TimeUnit.SECONDS);
        }
    }

    private static void awaitQuietly(CountDownLatch latch) {
        try {
            latch.await(60, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
