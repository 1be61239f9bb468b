package org.blockferry.engine.copy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.blockferry.engine.endpoint.EndpointException;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.testing.EngineTestKit;
import org.blockferry.engine.testing.Images;
import org.blockferry.nbd.NbdConnection;
import org.blockferry.nbd.NbdException;
import org.blockferry.nbd.NbdOptions;
import org.blockferry.nbd.testing.DiskChecksum;
import org.blockferry.nbd.testing.NbdkitLog;
import org.blockferry.nbd.testing.NbdkitServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Cancellation, server failures and bad input: clear errors, nothing written where nothing may be. */
class CopyFailureTest {
    private static EngineTestKit kit;
    private static Path dir;

    @BeforeAll
    static void start() {
        kit = new EngineTestKit("failure");
        dir = kit.dir();
    }

    @AfterAll
    static void stop() {
        kit.close();
    }

    @Test
    void cancellationMidCopyStopsFlushesAndReturnsEveryBuffer() throws Exception {
        Path log = dir.resolve("cancel-target.log");
        try (NbdkitServer source = NbdkitServer.start(dir, "sparse-random", "size=256M", "percent=100", "seed=11");
             NbdkitServer target = NbdkitServer.start(dir, "--filter=log", "--filter=delay", "memory", "size=256M",
                     "wdelay=40ms", "logfile=" + log)) {
            EngineTestKit.Running running = kit.start(source.uri(), target.uri(),
                    kit.settings().withConnections(1).withChunksInFlight(2));
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (running.copy().progress().bytesDone() < (8L << 20) && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            running.copy().cancel();
            Exception e = assertThrows(Exception.class, running::await);
            assertInstanceOf(CopyCancelledException.class, e);
            CopyProgress p = running.copy().progress();
            assertTrue(p.bytesDone() > 0 && p.bytesDone() < p.plannedBytes(), "stopped mid-copy: " + p);
            running.close();
            assertEquals(kit.environment().pool().capacity(), kit.environment().pool().available(),
                    "every buffer is back in the pool");
            var requests = NbdkitLog.requests(log);
            assertTrue(requests.stream().anyMatch(r -> r.kind().equals("Flush")), "what was written is flushed");
            // Everything below the last checkpoint is on the target, byte for byte.
            long checkpoint = p.checkpoint();
            assertTrue(checkpoint > 0, "a checkpoint was reached before the cancel: " + p);
            assertEquals(prefix(source.uri(), checkpoint), prefix(target.uri(), checkpoint));
        }
    }

    @Test
    void aRefusedExtraConnectionFailsTheCopyAndLeavesNoConnectionOpen() throws Exception {
        // the target takes three clients at a time: the copy's first connection opens even beside
        // two others the limit still counts (a CI run on a loaded machine saw the first connection
        // refused with limit=2, when NbdkitServer still probed its servers with a connection), and
        // of its three others, opened at once on the connector's threads, two at most open and the
        // rest are refused during their handshakes
        try (NbdkitServer source = NbdkitServer.start(dir, "sparse-random", "size=32M", "percent=50", "seed=5");
             NbdkitServer target = NbdkitServer.start(dir, "--filter=limit", "memory", "size=32M", "limit=3")) {
            Exception e = assertThrows(Exception.class,
                    () -> kit.copy(source.uri(), target.uri(), kit.settings().withConnections(4)));
            assertInstanceOf(NbdException.class, e, "the refused handshake's error: " + e);
            assertEquals(kit.environment().pool().capacity(), kit.environment().pool().available());
            // every connection the copy opened is closed: the target takes three clients at once
            // again (once it has seen the copy's go; a leaked one would keep it refusing the third)
            awaitThreeClientsTaken(target);
            // and the same copy with one connection per side goes through
            kit.copy(source.uri(), target.uri(), kit.settings().withConnections(1));
            assertEquals(DiskChecksum.ofUri(source.uri()), DiskChecksum.ofUri(target.uri()));
        }
    }

    @Test
    void sourceReadErrorFailsTheCopyWithTheNbdError() throws Exception {
        Path trigger = dir.resolve("fail-reads");
        Files.writeString(trigger, "on");
        try (NbdkitServer source = NbdkitServer.start(dir, "--filter=error", "sparse-random", "size=32M",
                "percent=100", "error-pread=EIO", "error-pread-rate=100%", "error-pread-file=" + trigger);
             NbdkitServer target = NbdkitServer.start(dir, "memory", "size=32M")) {
            Exception e = assertThrows(Exception.class, () -> kit.copy(source.uri(), target.uri(), kit.settings()));
            NbdException n = assertInstanceOf(NbdException.class, e);
            assertEquals(5, n.errno(), "EIO from the source: " + n.getMessage());
            assertEquals(kit.environment().pool().capacity(), kit.environment().pool().available());
        }
    }

    @Test
    void sourceServerKilledMidCopyFailsTheCopy() throws Exception {
        NbdkitServer source = NbdkitServer.start(dir, "--filter=delay", "sparse-random", "size=128M",
                "percent=100", "rdelay=30ms");
        try (NbdkitServer target = NbdkitServer.start(dir, "memory", "size=128M");
             EngineTestKit.Running running = kit.start(source.uri(), target.uri(), kit.settings())) {
            while (running.copy().progress().bytesDone() == 0) {
                Thread.sleep(10);
            }
            source.kill();
            Exception e = assertThrows(Exception.class, running::await);
            assertInstanceOf(NbdException.class, e, "the cause names the NBD failure: " + e);
        } finally {
            source.close();
        }
        assertEquals(kit.environment().pool().capacity(), kit.environment().pool().available());
    }

    @Test
    void unreachableSourceIsNamed() {
        String uri = "nbd+unix:///?socket=" + dir.resolve("nobody-listens.sock");
        Exception e = assertThrows(Exception.class, () -> kit.copy(uri, dir.resolve("x.img").toString(),
                kit.settings()));
        EndpointException ee = assertInstanceOf(EndpointException.class, e);
        assertEquals("source", ee.field());
        assertTrue(ee.getMessage().contains("No such file"), ee.getMessage());
        assertFalse(Files.exists(dir.resolve("x.img")), "no target is created for an unreachable source");
    }

    @Test
    void missingSourceFileIsNamed() {
        Path missing = dir.resolve("no-such-disk.img");
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> kit.copy(missing.toString(), dir.resolve("y.img").toString(), kit.settings()));
        assertEquals("source", e.field());
        assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
    }

    @Test
    void targetSmallerThanSourceIsRefusedAndLeftUntouched() throws Exception {
        Path image = Images.sparse(dir.resolve("big.img"), 8L << 20, 12).data(0, 8L << 20).close();
        Path log = dir.resolve("small-target.log");
        try (NbdkitServer target = NbdkitServer.start(dir, "--filter=log", "memory", "size=4M",
                "logfile=" + log)) {
            InvalidInputException e = assertThrows(InvalidInputException.class,
                    () -> kit.copy(image.toString(), target.uri(), kit.settings()));
            assertEquals("target", e.field());
            assertTrue(e.getMessage().contains("smaller than the source"), e.getMessage());
            assertWroteNothing(log);
        }
    }

    @Test
    void readOnlyTargetIsRefusedAndLeftUntouched() throws Exception {
        Path image = Images.sparse(dir.resolve("ro-src.img"), 1L << 20, 13).data(0, 1L << 20).close();
        Path log = dir.resolve("ro-target.log");
        try (NbdkitServer target = NbdkitServer.start(dir, "-r", "--filter=log", "memory", "size=1M",
                "logfile=" + log)) {
            InvalidInputException e = assertThrows(InvalidInputException.class,
                    () -> kit.copy(image.toString(), target.uri(), kit.settings()));
            assertEquals("target", e.field());
            assertTrue(e.getMessage().contains("read-only"), e.getMessage());
            assertWroteNothing(log);
            assertEquals(DiskChecksum.ofZeros(1L << 20), DiskChecksum.ofUri(target.uri()));
        }
    }

    @Test
    void malformedUrisAreRejectedBeforeAnyConnection() {
        for (String bad : new String[] {"http://host/disk", "nbd+unix:///export", "nbd://", "nbd://host:99999/x",
                "nbd+unix://host/?socket=/x", "nbd://ho st/x"}) {
            InvalidInputException e = assertThrows(InvalidInputException.class,
                    () -> kit.copy(bad, dir.resolve("z.img").toString(), kit.settings()), bad);
            assertEquals("source", e.field(), bad);
        }
    }

    private static void assertWroteNothing(Path log) {
        var requests = NbdkitLog.requests(log);
        assertEquals(0, NbdkitLog.bytes(requests, "Write"));
        assertEquals(0, NbdkitLog.bytes(requests, "Zero"));
        assertEquals(0, NbdkitLog.bytes(requests, "Trim"));
    }

    private static String prefix(String uri, long length) throws Exception {
        Path copy = dir.resolve("prefix-" + System.nanoTime() + ".img");
        String nbdcopy = org.blockferry.nbd.testing.TestPeers.require("nbdcopy", "libnbd-bin");
        org.blockferry.nbd.testing.QemuNbdServer.run(nbdcopy, uri, copy.toString());
        String sum = DiskChecksum.ofFile(copy, length);
        Files.delete(copy);
        return sum;
    }

    /** Waits up to 5 s until {@code server} takes three NBD clients at once (and lets them go again). */
    private static void awaitThreeClientsTaken(NbdkitServer server) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (true) {
            try (NbdConnection one = NbdConnection.open(server.uri(), NbdOptions.DEFAULT);
                 NbdConnection two = NbdConnection.open(server.uri(), NbdOptions.DEFAULT);
                 NbdConnection three = NbdConnection.open(server.uri(), NbdOptions.DEFAULT)) {
                assertEquals(32L << 20, one.size());
                assertEquals(32L << 20, two.size());
                assertEquals(32L << 20, three.size());
                return;
            } catch (NbdException refused) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("the target still refuses a third client 5 s after the copy failed:"
                            + " a connection of the copy is still open", refused);
                }
                Thread.sleep(50);
            }
        }
    }
}
