package org.blockferry.api.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.nbd.testing.NbdkitServer;
import org.blockferry.nbd.testing.TestPeers;
import org.blockferry.persistence.PersistenceSettings;
import org.junit.jupiter.api.Test;

/**
 * Cluster traffic over TLS with mutual authentication, between real node processes: a member
 * whose certificate the cluster's CA signed joins; one with a certificate of its own cannot.
 */
class ClusterTlsTest {
    private static final String PASSWORD = "store-password-for-tests";

    /** A CA, two members it signed, and a rogue with a self-signed certificate; PKCS12 stores. */
    private static Path certificates(Path dir) throws Exception {
        Path keys = Files.createDirectories(dir.resolve("keys"));
        Files.writeString(keys.resolve("password"), PASSWORD + "\n");
        keytool(keys, "-genkeypair", "-alias", "ca", "-keyalg", "EC", "-groupname", "secp256r1", "-dname",
                "CN=blockferry-test-ca", "-ext", "bc:c", "-validity", "2", "-keystore", "ca.p12");
        keytool(keys, "-exportcert", "-rfc", "-alias", "ca", "-keystore", "ca.p12", "-file", "ca.pem");
        keytool(keys, "-importcert", "-noprompt", "-alias", "ca", "-file", "ca.pem", "-keystore", "trust.p12");
        for (String node : List.of("n1", "n2")) {
            keytool(keys, "-genkeypair", "-alias", "node", "-keyalg", "EC", "-groupname", "secp256r1", "-dname",
                    "CN=" + node, "-validity", "2", "-keystore", node + ".p12");
            keytool(keys, "-certreq", "-alias", "node", "-keystore", node + ".p12", "-file", node + ".csr");
            keytool(keys, "-gencert", "-alias", "ca", "-keystore", "ca.p12", "-infile", node + ".csr", "-outfile",
                    node + ".pem", "-ext", "eku=serverAuth,clientAuth", "-validity", "2");
            keytool(keys, "-importcert", "-noprompt", "-alias", "ca", "-file", "ca.pem", "-keystore", node + ".p12");
            keytool(keys, "-importcert", "-alias", "node", "-file", node + ".pem", "-keystore", node + ".p12");
        }
        keytool(keys, "-genkeypair", "-alias", "node", "-keyalg", "EC", "-groupname", "secp256r1", "-dname",
                "CN=rogue", "-validity", "2", "-keystore", "rogue.p12");
        return keys;
    }

    private static void keytool(Path dir, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "keytool")
                .toString()));
        cmd.addAll(List.of(args));
        cmd.addAll(List.of("-storepass", PASSWORD, "-storetype", "PKCS12"));
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0, String.join(" ", args) + ": " + out);
    }

    private static Map<String, String> member(Path keys, String store, int port, Integer seedPort) {
        Map<String, String> m = new HashMap<>(Map.of(
                "blockferry.cluster.port", Integer.toString(port),
                "blockferry.cluster.tls.enabled", "on",
                "blockferry.cluster.tls.key-store", keys.resolve(store).toString(),
                "blockferry.cluster.tls.key-store-password-file", keys.resolve("password").toString(),
                "blockferry.cluster.tls.trust-store", keys.resolve("trust.p12").toString(),
                "blockferry.cluster.tls.trust-store-password-file", keys.resolve("password").toString(),
                "blockferry.http.token", "cluster-tls-test-token-0123456789"));
        if (seedPort != null) {
            m.put("blockferry.cluster.seed-nodes.0", "pekko://blockferry@127.0.0.1:" + seedPort);
        }
        return m;
    }

    @Test
    void aMemberSignedByTheClustersCaJoinsAndARogueCannot() throws Exception {
        Path dir = TestPeers.scratchDirectory("cluster-tls-");
        Path keys = certificates(dir);
        Path logback = dir.resolve("logback.xml");
        Files.writeString(logback, "<configuration><appender name=\"E\" class=\"ch.qos.logback.core.ConsoleAppender\">"
                + "<target>System.err</target><encoder><pattern>%d %-5level %logger{0} %msg%n</pattern></encoder>"
                + "</appender><logger name=\"org.apache.pekko.cluster\" level=\"INFO\"/>"
                + "<root level=\"WARN\"><appender-ref ref=\"E\"/></root></configuration>");
        PersistenceSettings db = TestDatabases.create(TestDatabases.Kind.POSTGRES, dir);
        int seedPort = NbdkitServer.freePort();
        try (NodeProcess seed = NodeProcess.start(dir, "seed", db, member(keys, "n1.p12", seedPort, null), logback)) {
            assertTrue(seed.awaitLog("is JOINING itself", Duration.ofMinutes(1))
                    || seed.awaitLog("Welcome from", Duration.ofSeconds(1)) || seed.awaitLog("is moving node",
                    Duration.ofSeconds(1)), "the seed forms the cluster: " + seed.log());
            int roguePort = NbdkitServer.freePort();
            try (NodeProcess member = NodeProcess.start(dir, "member", db,
                    member(keys, "n2.p12", NbdkitServer.freePort(), seedPort), logback);
                 NodeProcess rogue = NodeProcess.start(dir, "rogue", db,
                         member(keys, "rogue.p12", roguePort, seedPort), logback)) {
                assertTrue(member.awaitLog("Welcome from [pekko://blockferry@127.0.0.1:" + seedPort + "]",
                        Duration.ofMinutes(1)), "the member joins over TLS: " + member.log());
                assertFalse(rogue.awaitLog("Welcome from", Duration.ofSeconds(20)),
                        "the rogue must not join: " + rogue.log());
                String seedLog = seed.log();
                assertTrue(rogue.log().contains("SSLHandshakeException: Received fatal alert: bad_certificate"),
                        "the seed refused the rogue's certificate in the handshake: " + rogue.log());
                assertFalse(seedLog.contains("127.0.0.1:" + roguePort + "] is JOINING"),
                        "the seed never heard the rogue ask to join: " + seedLog);
            }
        }
    }

    @Test
    void aNodeOffLoopbackNeedsItsKeysAndCannotTurnTlsOff() {
        Config base = ConfigFactory.load();
        Config off = ConfigFactory.parseMap(Map.of("blockferry.cluster.hostname", "192.0.2.10",
                "blockferry.cluster.tls.enabled", "off")).withFallback(base);
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> ClusterTls.settings(off));
        assertEquals("blockferry.cluster.tls.enabled", e.field());
        Config auto = ConfigFactory.parseMap(Map.of("blockferry.cluster.hostname", "192.0.2.10")).withFallback(base);
        e = assertThrows(InvalidInputException.class, () -> ClusterTls.settings(auto));
        assertEquals("blockferry.cluster.tls.key-store", e.field());
        assertTrue(ClusterTls.settings(base).isEmpty(), "loopback: plain TCP by default");
    }
}
