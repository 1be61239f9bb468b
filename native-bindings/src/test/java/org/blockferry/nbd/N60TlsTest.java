package org.blockferry.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import org.blockferry.nbd.testing.NbdkitServer;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.Test;

/** Band 60: nbds:// and nbds+unix:// with a TLS pre-shared key and username. */
class N60TlsTest {
    private final Path dir = TestPeers.scratchDirectory("n60-");

    private Path pskFile(String user, String hexKey) throws Exception {
        Path file = dir.resolve(user + ".psk");
        Files.writeString(file, user + ":" + hexKey + "\n");
        return file;
    }

    @Test
    void connectsOverTlsOnUnixSocketWithPskInTheUri() throws Exception {
        Path keys = pskFile("alice", "0123456789abcdef0123456789abcdef");
        try (NbdkitServer server = NbdkitServer.start(dir, "--tls=require", "--tls-psk=" + keys, "pattern",
                "size=1M")) {
            String uri = "nbds+unix://alice@/?socket=" + server.socket() + "&tls-psk-file=" + keys;
            try (NbdConnection c = NbdConnection.open(uri, NbdOptions.DEFAULT)) {
                ByteBuffer buf = ByteBuffer.allocateDirect(8).order(ByteOrder.BIG_ENDIAN);
                c.pread(buf, 65536);
                assertEquals(65536, buf.getLong(0));
            }
        }
    }

    @Test
    void connectsOverTlsOnTcpWithPskFromOptions() throws Exception {
        Path keys = pskFile("bob", "fedcba9876543210fedcba9876543210");
        try (NbdkitServer server = NbdkitServer.startTcp(dir, "--tls=require", "--tls-psk=" + keys, "memory",
                "size=1M")) {
            String uri = "nbds://127.0.0.1:" + server.port();
            try (NbdConnection c = NbdConnection.open(uri, NbdOptions.DEFAULT.withTlsPsk(keys, "bob"))) {
                assertEquals(1 << 20, c.size());
            }
        }
    }

    /**
     * A connection closed after its work tells the server it leaves (NBD_CMD_DISC, then the TLS
     * close): nbdkit logged "The TLS connection was non-properly terminated" as an error for
     * every connection blockferry closed before. Both ways a copy closes: the blocking handle, and
     * a connection of an event loop after asynchronous requests.
     */
    @Test
    void closedConnectionsSayGoodbyeSoTheTlsServerLogsNoError() throws Exception {
        Path keys = pskFile("erin", "0123456789abcdef0123456789abcdef");
        try (NbdkitServer server = NbdkitServer.start(dir, "-v", "--tls=require", "--tls-psk=" + keys, "memory",
                "size=1M");
             NbdEventLoop loop = NbdEventLoop.start("n60-goodbye", java.time.Duration.ofSeconds(30))) {
            String uri = "nbds+unix://erin@/?socket=" + server.socket() + "&tls-psk-file=" + keys;
            ByteBuffer buf = ByteBuffer.allocateDirect(4096);
            for (int i = 0; i < 2; i++) {
                try (NbdConnection c = NbdConnection.open(uri, NbdOptions.DEFAULT)) {
                    c.pwrite(buf, 4096L * i, 0);
                }
            }
            try (NbdBuffer chunk = NbdBuffer.allocate(4096)) {
                AsyncConnection a = loop.attach(NbdConnection.open(uri, NbdOptions.DEFAULT));
                a.pread(chunk, 0, 4096, 0).get(10, java.util.concurrent.TimeUnit.SECONDS);
                a.close().get(10, java.util.concurrent.TimeUnit.SECONDS);
            }
            long deadline = System.nanoTime() + java.time.Duration.ofSeconds(10).toNanos();
            while (!server.idle() && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            String log = server.logText();
            assertEquals(3, log.split("client sent NBD_CMD_DISC", -1).length - 1, log);
            assertEquals(-1, log.indexOf("non-properly terminated"), log);
        }
    }

    @Test
    void wrongKeyIsRefused() throws Exception {
        Path serverKeys = pskFile("carol", "00112233445566778899aabbccddeeff");
        Path wrong = dir.resolve("wrong.psk");
        Files.writeString(wrong, "carol:ffeeddccbbaa99887766554433221100\n");
        try (NbdkitServer server = NbdkitServer.start(dir, "--tls=require", "--tls-psk=" + serverKeys, "memory",
                "size=1M")) {
            String uri = "nbds+unix://carol@/?socket=" + server.socket() + "&tls-psk-file=" + wrong;
            NbdException e = assertThrows(NbdException.class, () -> NbdConnection.open(uri, NbdOptions.DEFAULT));
            assertEquals("nbd_connect_uri", e.operation());
        }
    }

    @Test
    void plainClientIsRefusedByTlsOnlyServer() throws Exception {
        Path keys = pskFile("dave", "0123456789abcdef0123456789abcdef");
        try (NbdkitServer server = NbdkitServer.start(dir, "--tls=require", "--tls-psk=" + keys, "memory",
                "size=1M")) {
            assertThrows(NbdException.class, () -> NbdConnection.open(server.uri(), NbdOptions.DEFAULT));
        }
    }
}
