package org.blockferry.engine.cloudstack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class CloudsTest {
    private static final String VM = "0b3c9a8e-1f2d-4c5b-9a6e-7d8f9a0b1c2d";
    private static final String CS1 = Clouds.KEY + ".cs1.";
    private static Path apiKey;
    private static Path secretKey;

    @BeforeAll
    static void keyFiles() throws IOException {
        Path dir = Files.createDirectories(Path.of("target", "clouds-test").toAbsolutePath());
        apiKey = Files.writeString(dir.resolve("api-key"), "API-CANARY-7f3e\n");
        secretKey = Files.writeString(dir.resolve("secret-key"), "SECRET-CANARY-9c1d\n");
    }

    /** A complete cloud cs1 with one setting replaced (or added); "-" as the value removes it. */
    private static String cs1(String setting, String value) {
        StringBuilder s = new StringBuilder(Clouds.KEY + ".cs1 {\n");
        String[][] base = {{"url", "\"https://cloud.example/client/api\""}, {"api-key-file", "\"" + apiKey + "\""},
            {"secret-key-file", "\"" + secretKey + "\""}, {"zone", "zone1"}, {"disk-offering", "\"Custom disk\""},
            {"appliance-vm-id", VM}};
        boolean replaced = false;
        for (String[] kv : base) {
            if (kv[0].equals(setting)) {
                replaced = true;
                if (!value.equals("-")) {
                    s.append(kv[0]).append(" = ").append(value).append('\n');
                }
            } else {
                s.append(kv[0]).append(" = ").append(kv[1]).append('\n');
            }
        }
        if (!replaced && setting != null) {
            s.append(setting).append(" = ").append(value).append('\n');
        }
        return s.append("}\n").toString();
    }

    private static Clouds parse(String hocon) {
        return Clouds.fromConfig(ConfigFactory.parseString(hocon).resolve());
    }

    private static InvalidInputException refused(String setting, String value) {
        return assertThrows(InvalidInputException.class, () -> parse(cs1(setting, value)));
    }

    @Test
    void aCloudGetsItsDefaults() {
        Cloud c = parse(cs1(null, null)).named("target.cloud", "cs1");
        assertEquals(URI.create("https://cloud.example/client/api"), c.url());
        assertEquals(apiKey, c.apiKeyFile());
        assertEquals(secretKey, c.secretKeyFile());
        assertEquals("zone1", c.zone());
        assertEquals("Custom disk", c.diskOffering());
        assertEquals(VM, c.applianceVmId());
        assertEquals(Path.of("/dev/disk/by-id"), c.deviceDir());
        assertEquals(Duration.ofMinutes(15), c.asyncTimeout());
        assertEquals(Duration.ofSeconds(60), c.deviceTimeout());
        assertEquals(3, c.signatureVersion());
    }

    @Test
    void settingsAreRead() {
        Cloud c = parse(cs1(null, null).replace("}", "device-dir = /var/lib/devs\nasync-timeout = 5m\n"
                + "device-timeout = 90s\nsignature-version = 2\n}")).named("target.cloud", "cs1");
        assertEquals(Path.of("/var/lib/devs"), c.deviceDir());
        assertEquals(Duration.ofMinutes(5), c.asyncTimeout());
        assertEquals(Duration.ofSeconds(90), c.deviceTimeout());
        assertEquals(2, c.signatureVersion());
    }

    @Test
    void noCloudsUnlessConfigured() {
        assertEquals(Set.of(), Clouds.fromConfig(ConfigFactory.empty()).names());
        assertEquals(Set.of(), Clouds.fromConfig(ConfigFactory.defaultReference().resolve()).names(),
                "reference.conf configures none");
    }

    @Test
    void anUnknownCloudIsRefusedNamingTheFieldAndTheConfiguredNames() {
        Clouds clouds = parse(cs1(null, null) + cs1(null, null).replace(".cs1 {", ".cs2 {"));
        assertEquals(Set.of("cs1", "cs2"), clouds.names());
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> clouds.named("target.cloud", "cs3"));
        assertEquals("target.cloud", e.field());
        assertTrue(e.getMessage().contains("'cs3' is not a CloudStack cloud of this node (configured: cs1, cs2)"),
                e.getMessage());
        assertEquals("target.cloud", assertThrows(InvalidInputException.class,
                () -> Clouds.of(Set.of()).named("target.cloud", "cs1")).field());
        assertSame(clouds.named("x", "cs2"), clouds.named("y", "cs2"));
    }

    @Test
    void unknownSettingsAreRefused() {
        InvalidInputException e = refused("colour", "blue");
        assertEquals(CS1 + "colour", e.field());
        assertTrue(e.getMessage().contains("unknown setting"), e.getMessage());
    }

    @Test
    void inlineKeysAreRefusedPointingToTheFileForm() {
        InvalidInputException e = refused("secret-key", "\"s3cr3t\"");
        assertEquals(CS1 + "secret-key", e.field());
        assertTrue(e.getMessage().contains("give secret-key-file"), e.getMessage());
        assertFalse(e.getMessage().contains("s3cr3t"), e.getMessage());
        assertEquals(CS1 + "api-key", refused("api-key", "k").field());
    }

    @Test
    void plainHttpIsOnlyForLoopback() {
        InvalidInputException e = refused("url", "\"http://cloud.example:8080/client/api\"");
        assertEquals(CS1 + "url", e.field());
        assertTrue(e.getMessage().contains("must be https"), e.getMessage());
        assertEquals(CS1 + "url", refused("url", "\"http://10.0.0.5/client/api\"").field());
        assertEquals(CS1 + "url", refused("url", "\"http://localhost.example.com/client/api\"").field());
        for (String ok : new String[] {"http://127.0.0.1:8080/client/api", "http://localhost/client/api",
            "http://[::1]:9/client/api"}) {
            assertEquals(URI.create(ok), parse(cs1("url", "\"" + ok + "\"")).named("t", "cs1").url());
        }
        assertTrue(refused("url", "\"https://cloud.example:8080/client\"").getMessage().contains("/client/api"));
        assertEquals(CS1 + "url", refused("url", "\"ftp://cloud.example/client/api\"").field());
    }

    @Test
    void requiredSettingsAreNamed() {
        for (String setting : new String[] {"url", "api-key-file", "secret-key-file", "zone", "disk-offering",
            "appliance-vm-id"}) {
            InvalidInputException e = refused(setting, "-");
            assertEquals(CS1 + setting, e.field());
            assertTrue(e.getMessage().endsWith("is required"), e.getMessage());
        }
    }

    @Test
    void badValuesNameTheirKey() {
        assertEquals(CS1 + "signature-version", refused("signature-version", "4").field());
        assertEquals(CS1 + "signature-version", refused("signature-version", "three").field());
        assertEquals(CS1 + "device-dir", refused("device-dir", "dev/disk").field());
        assertEquals(CS1 + "api-key-file", refused("api-key-file", "keys/api").field());
        assertEquals(CS1 + "secret-key-file", refused("secret-key-file", "/no/such/file").field());
        assertEquals(CS1 + "async-timeout", refused("async-timeout", "0s").field());
        assertEquals(CS1 + "device-timeout", refused("device-timeout", "soon").field());
        assertEquals(CS1 + "appliance-vm-id", refused("appliance-vm-id", "appliance-1").field());
        assertEquals(Clouds.KEY + ".bad.name", assertThrows(InvalidInputException.class,
                () -> parse(cs1(null, null).replace(".cs1 {", ".\"bad.name\" {"))).field());
        assertEquals(Clouds.KEY, assertThrows(InvalidInputException.class,
                () -> parse(Clouds.KEY + " = [1]")).field());
    }

    @Test
    void aCloudPrintsNoKey() throws IOException {
        Clouds clouds = parse(cs1(null, null));
        String shown = clouds.named("t", "cs1").toString() + clouds;
        for (Path f : new Path[] {apiKey, secretKey}) {
            assertFalse(shown.contains(Files.readString(f).trim()), shown);
        }
        assertTrue(shown.contains("cs1"), shown);
    }
}
