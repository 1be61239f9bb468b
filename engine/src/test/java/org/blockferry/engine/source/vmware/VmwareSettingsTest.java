package org.blockferry.engine.source.vmware;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.junit.jupiter.api.Test;

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
}
