package org.blockferry.engine.source.vmware;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.source.vmware.testing.TestCertificates;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class VmwareSettingsTest {

    private static Config with(Map<String, String> values) {
        return ConfigFactory.parseMap(values).withFallback(ConfigFactory.defaultReference()).resolve();
    }

    private static InvalidInputException refused(String key, String value) {
        return assertThrows(InvalidInputException.class, () -> VmwareSettings.fromConfig(with(Map.of(key, value))));
    }

    @Test
    void theReferenceConfigurationReadsThroughVddkWithoutALibdir() {
        VmwareSettings s = VmwareSettings.fromConfig(ConfigFactory.defaultReference().resolve());
        assertEquals(Duration.ofMinutes(5), s.shutdownTimeout());
        assertEquals(List.of("vddk"), s.vddkPlugin());
        assertNull(s.vddkLibdir());
        assertEquals(List.of(), s.vddkTransports());
        assertEquals(Duration.ofMinutes(30), s.snapshotCleanupTimeout());
        assertEquals(Set.of(), s.vcenters().names(), "no vCenter unless an operator configures one");
        assertEquals(64L << 20, s.maxReplyBytes());
    }

    @Test
    void valuesAreReadAndAScriptRunsUnderTheShPlugin() throws Exception {
        Path dir = Files.createDirectories(Path.of("target", "vmware-settings").toAbsolutePath());
        Path script = dir.resolve("standin");
        Files.writeString(script, "#!/bin/sh\nexit 2\n");
        Path so = dir.resolve("nbdkit-other-plugin.so");
        Files.write(so, new byte[] {0x7f, 'E', 'L', 'F'});
        VmwareSettings s = VmwareSettings.fromConfig(with(Map.of("blockferry.vmware.shutdown-timeout", "90s",
                "blockferry.vmware.vddk.libdir", "/opt/vmware-vix-disklib-distrib",
                "blockferry.vmware.vddk.transports", "hotadd:nbdssl:nbd",
                "blockferry.vmware.vddk.plugin", script.toString())));
        assertEquals(Duration.ofSeconds(90), s.shutdownTimeout());
        assertEquals(Path.of("/opt/vmware-vix-disklib-distrib"), s.vddkLibdir());
        assertEquals(List.of("hotadd", "nbdssl", "nbd"), s.vddkTransports());
        assertEquals(List.of("sh", script.toString()), s.vddkPlugin());
        assertEquals(List.of(so.toString()), VmwareSettings.fromConfig(with(Map.of("blockferry.vmware.vddk.plugin",
                so.toString()))).vddkPlugin());
    }

    @Test
    void badValuesNameTheirKey() {
        assertEquals("blockferry.vmware.shutdown-timeout", refused("blockferry.vmware.shutdown-timeout", "-1s").field());
        assertEquals("blockferry.vmware.snapshot-cleanup-timeout",
                refused("blockferry.vmware.snapshot-cleanup-timeout", "-5m").field());
        assertEquals("blockferry.vmware.vddk.libdir", refused("blockferry.vmware.vddk.libdir", "vddk/lib").field());
        InvalidInputException t = refused("blockferry.vmware.vddk.transports", "hotadd:fast");
        assertEquals("blockferry.vmware.vddk.transports", t.field());
        assertTrue(t.getMessage().contains("unknown transport 'fast'"), t.getMessage());
        assertEquals("blockferry.vmware.vddk.plugin", refused("blockferry.vmware.vddk.plugin", " ").field());
        assertEquals("blockferry.vmware.vddk.plugin", refused("blockferry.vmware.vddk.plugin", "/no/such/plugin.so")
                .field());
    }

    private static final String VC = "blockferry.vmware.vcenters.vc1.";

    /** A valid vCenter vc1 (pinned), with {@code changes} applied; a null value removes the key. */
    private static Config vc1(Path passwordFile, Map<String, String> changes) {
        Map<String, String> m = new HashMap<>(Map.of(VC + "url", "https://vc.example/sdk", VC + "user",
                "migrate@vsphere.local", VC + "password-file", passwordFile.toString(), VC + "thumbprint",
                "ab".repeat(32)));
        changes.forEach((k, v) -> {
            if (v == null) {
                m.remove(k);
            } else {
                m.put(k, v);
            }
        });
        return ConfigFactory.parseMap(m).withFallback(ConfigFactory.defaultReference()).resolve();
    }

    private static Path scratch() throws Exception {
        Path dir = Files.createDirectories(Path.of("target", "vmware-settings").toAbsolutePath());
        Files.writeString(dir.resolve("vc1.password"), "not-read-at-start\n");
        return dir;
    }

    @Test
    void vcentersAreConfiguredByNameWithOneWayToTrustEach() throws Exception {
        Path dir = scratch();
        Path password = dir.resolve("vc1.password");
        Path pem = TestCertificates.caPem(dir, "ca");
        VmwareSettings s = VmwareSettings.fromConfig(vc1(password, Map.of(
                "blockferry.vmware.vcenters.vc2.url", "https://vc2.example:8443/sdk",
                "blockferry.vmware.vcenters.vc2.user", "bf",
                "blockferry.vmware.vcenters.vc2.password-file", password.toString(),
                "blockferry.vmware.vcenters.vc2.trust-store", pem.toString(),
                "blockferry.vmware.vcenters.lab.url", "https://lab.example/sdk",
                "blockferry.vmware.vcenters.lab.user", "root",
                "blockferry.vmware.vcenters.lab.password-file", password.toString(),
                "blockferry.vmware.vcenters.lab.insecure", "true",
                "blockferry.vmware.allow-insecure", "true",
                "blockferry.vmware.max-reply-bytes", "16MiB")));
        assertEquals(List.of("lab", "vc1", "vc2"), List.copyOf(s.vcenters().names()));
        Vcenter vc1 = s.vcenters().named("vc1");
        assertEquals(java.net.URI.create("https://vc.example/sdk"), vc1.url());
        assertEquals("migrate@vsphere.local", vc1.user());
        assertEquals(password, vc1.passwordFile());
        assertEquals("ab".repeat(32), vc1.thumbprint());
        assertEquals(pem, s.vcenters().named("vc2").trustStore());
        assertTrue(s.vcenters().named("lab").insecure());
        assertEquals(16L << 20, s.maxReplyBytes());
        assertFalse(vc1.toString().contains("vc1.password"), "no file names in a vCenter's description: " + vc1);
    }

    @Test
    void aJobNamingAnUnknownVcenterIsToldTheNamesConfigured() throws Exception {
        Vcenters vcenters = VmwareSettings.fromConfig(vc1(scratch().resolve("vc1.password"), Map.of())).vcenters();
        InvalidInputException unknown = assertThrows(InvalidInputException.class, () -> vcenters.named("vc9"));
        assertEquals("source.vcenter", unknown.field());
        assertEquals("source.vcenter: 'vc9' is not a vCenter of this node (configured: vc1)", unknown.getMessage());
        InvalidInputException old = assertThrows(InvalidInputException.class, () -> vcenters.named(null));
        assertEquals("source.vcenter", old.field());
        assertTrue(old.getMessage().contains("submit it again with source.vcenter (configured: vc1)"), old.getMessage());
        InvalidInputException none = assertThrows(InvalidInputException.class,
                () -> VmwareSettings.defaults().vcenters().named("vc1"));
        assertTrue(none.getMessage().contains("none is configured on this node"), none.getMessage());
    }

    /** Each bad vCenter setting stops the node's start, naming its key. */
    @ParameterizedTest(name = "{0} = {1}")
    @CsvSource(delimiter = '|', nullValues = "-", value = {
        "url                  | http://vc.example/sdk          | url",
        "url                  | vc.example                     | url",
        "url                  | https://bf:pw@vc.example/sdk   | url",
        "user                 | -                              | user",
        "user                 | ' '                            | user",
        "password-file        | -                              | password-file",
        "password-file        | vc1.password                   | password-file",
        "password-file        | /no/such/vc1.password          | password-file",
        "password             | hunter2                        | password",
        "password-env         | VC1_PASSWORD                   | password-env",
        "thumbprint           | AB:CD                          | thumbprint",
        "trust-store          | /no/such/ca.pem                | trust-store",
        "trust-store-password | changeit                       | trust-store-password",
        "insecure             | true                           | insecure",
        "insecure             | maybe                          | insecure",
        "uri                  | https://vc.example/sdk         | uri"})
    void aBadVcenterSettingNamesItsKey(String setting, String value, String named) throws Exception {
        Path password = scratch().resolve("vc1.password");
        Map<String, String> change = new HashMap<>();
        change.put(VC + setting, value);
        if (setting.equals("insecure")) {
            change.put(VC + "thumbprint", null);
        }
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> VmwareSettings.fromConfig(vc1(password, change)));
        assertEquals(VC + named, e.field(), e.getMessage());
        assertFalse(e.getMessage().contains("not-read-at-start"), "the password is not in the message");
    }

    @Test
    void trustSettingsContradictEachOther() throws Exception {
        Path dir = scratch();
        Path password = dir.resolve("vc1.password");
        assertEquals(VC + "trust-store", assertThrows(InvalidInputException.class, () -> VmwareSettings.fromConfig(
                vc1(password, Map.of(VC + "trust-store", TestCertificates.caPem(dir, "ca").toString())))).field());
        assertEquals(VC + "insecure", assertThrows(InvalidInputException.class, () -> VmwareSettings.fromConfig(
                vc1(password, Map.of(VC + "insecure", "true", "blockferry.vmware.allow-insecure", "true")))).field());
        Path notPem = Files.writeString(dir.resolve("not-a-store"), "hello\n");
        Map<String, String> store = new HashMap<>(Map.of(VC + "trust-store", notPem.toString()));
        store.put(VC + "thumbprint", null);
        assertEquals(VC + "trust-store", assertThrows(InvalidInputException.class,
                () -> VmwareSettings.fromConfig(vc1(password, store))).field());
    }

    @Test
    void otherBadVmwareSettingsNameTheirKey() throws Exception {
        Path password = scratch().resolve("vc1.password");
        for (String[] bad : new String[][] {{"blockferry.vmware.max-reply-bytes", "1KiB"},
            {"blockferry.vmware.max-reply-bytes", "lots"}, {"blockferry.vmware.allow-insecure", "maybe"},
            {"blockferry.vmware.vcenters.-vc", "{}"}, {"blockferry.vmware.vcenters", "vc1"}}) {
            Map<String, String> change = new HashMap<>(Map.of(bad[0], bad[1]));
            if (bad[0].startsWith("blockferry.vmware.vcenters")) {
                change.put(VC + "url", null);
                change.put(VC + "user", null);
                change.put(VC + "password-file", null);
                change.put(VC + "thumbprint", null);
            }
            InvalidInputException e = assertThrows(InvalidInputException.class,
                    () -> VmwareSettings.fromConfig(vc1(password, change)), bad[0]);
            assertEquals(bad[0], e.field(), e.getMessage());
        }
    }
}
