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
