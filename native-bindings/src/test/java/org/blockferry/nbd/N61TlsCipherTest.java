package org.blockferry.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.blockferry.nbd.testing.NbdkitServer;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.Test;

/**
 * Band 61: the TLS cipher the client asks for. This JVM loads libnbd with the default preference
 * ({@code auto}); nbdkit's {@code -D nbdkit.tls.session=1} says which cipher was negotiated.
 */
class N61TlsCipherTest {
    private static final Pattern SESSION = Pattern.compile("TLS session: \\(TLS[0-9.]+\\)-[^\\n]*-\\(([A-Z0-9-]+)\\)");
    private final Path dir = TestPeers.scratchDirectory("n61-");

    private Path pskFile() throws Exception {
        Path file = dir.resolve("keys.psk");
        Files.writeString(file, "erin:00112233445566778899aabbccddeeff\n");
        return file;
    }

    private static String negotiated(NbdkitServer server) throws InterruptedException {
        for (int i = 0; i < 100; i++) {
            Matcher m = SESSION.matcher(server.logText());
            if (m.find()) {
                return m.group(1);
            }
            Thread.sleep(20);
        }
        throw new AssertionError("nbdkit logged no TLS session: " + server.logText());
    }

    @Test
    void anAesCpuGetsAesGcmWhereGnutlsAloneWouldTakeChacha() throws Exception {
        Path keys = pskFile();
        try (NbdkitServer server = NbdkitServer.start(dir, "-v", "-D", "nbdkit.tls.session=1", "--tls=require",
                "--tls-psk=" + keys, "memory", "size=1M");
             NbdConnection c = NbdConnection.open(
                     "nbds+unix://erin@/?socket=" + server.socket() + "&tls-psk-file=" + keys, NbdOptions.DEFAULT)) {
            assertEquals(1 << 20, c.size());
            String cipher = negotiated(server);
            boolean systemPolicy = System.getenv("GNUTLS_SYSTEM_PRIORITY_FILE") != null
                    || Files.exists(TlsCiphers.SYSTEM_FILE);
            if (TlsCiphers.cpuHasAes() && !systemPolicy) {
                assertTrue(cipher.matches("AES-(128|256)-GCM"), "negotiated " + cipher);
                assertTrue(NbdConnection.tlsCiphersInEffect().startsWith("auto: CHACHA20-POLY1305 not offered"),
                        NbdConnection.tlsCiphersInEffect());
            } else {
                assertEquals("auto: GnuTLS's own cipher order", NbdConnection.tlsCiphersInEffect());
            }
        }
    }

    @Test
    void aServerThatAllowsOnlyChachaIsRefusedWithTheSettingToChange() throws Exception {
        if (!TlsCiphers.cpuHasAes()) {
            throw new AssertionError("this test needs a CPU with AES instructions (the aes flag in /proc/cpuinfo)");
        }
        Path keys = pskFile();
        Path chachaOnly = dir.resolve("chacha-only.conf");
        Files.writeString(chachaOnly, "[overrides]\n" + String.join("", java.util.stream.Stream.of(
                "AES-128-GCM", "AES-256-GCM", "AES-128-CCM", "AES-256-CCM", "AES-128-CBC", "AES-256-CBC")
                .map(c -> "tls-disabled-cipher = " + c + "\n").toList()));
        try (NbdkitServer server = NbdkitServer.startWithEnv(dir, Map.of("GNUTLS_SYSTEM_PRIORITY_FILE",
                chachaOnly.toString()), "--tls=require", "--tls-psk=" + keys, "memory", "size=1M")) {
            NbdException e = assertThrows(NbdException.class, () -> NbdConnection.open(
                    "nbds+unix://erin@/?socket=" + server.socket() + "&tls-psk-file=" + keys, NbdOptions.DEFAULT));
            assertEquals("nbd_connect_uri", e.operation());
            assertTrue(e.getMessage().contains("blockferry.nbd.tls-ciphers")
                    && e.getMessage().contains("gnutls-default"), e.getMessage());
        }
    }

    @Test
    void thePolicyFileDropsChachaOnlyWhereAsked() throws Exception {
        String env = null;
        boolean systemFile = Files.exists(TlsCiphers.SYSTEM_FILE);
        assertNull(TlsCiphers.GNUTLS_DEFAULT.overrideFileText(env, true));
        assertNull(TlsCiphers.AUTO.overrideFileText(env, false));
        assertEquals(systemFile ? null : TlsCiphers.OVERRIDE, TlsCiphers.AUTO.overrideFileText(env, true));
        Path operators = dir.resolve("operator.conf");
        Files.writeString(operators, "[overrides]\ntls-disabled-mac = sha1\n");
        assertNull(TlsCiphers.AUTO.overrideFileText(operators.toString(), true), "an operator's policy rules under auto");
        assertEquals("[overrides]\ntls-disabled-mac = sha1\n" + TlsCiphers.OVERRIDE,
                TlsCiphers.AES_GCM.overrideFileText(operators.toString(), false));
        assertEquals(TlsCiphers.AES_GCM, TlsCiphers.fromConfigName("aes-gcm"));
        assertEquals(TlsCiphers.GNUTLS_DEFAULT, TlsCiphers.fromConfigName("gnutls-default"));
        assertNull(TlsCiphers.fromConfigName("AES_GCM"));
        assertNull(TlsCiphers.fromConfigName("NORMAL:-CHACHA20-POLY1305"));
    }
}
