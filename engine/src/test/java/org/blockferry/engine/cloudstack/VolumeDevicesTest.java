package org.blockferry.engine.cloudstack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class VolumeDevicesTest {
    private static final String VOLUME = "5b0f2c4e-91d3-4a57-8a7e-0c2f9b1d6e33";

    @Test
    void theSerialIsTheUuidWithoutDashesCutTo20() {
        assertEquals("5b0f2c4e91d34a578a7e", VolumeDevices.serial(VOLUME));
    }

    @Test
    void candidatesAreVirtioThenScsi() {
        Path dir = Path.of("/dev/disk/by-id");
        assertEquals(List.of(dir.resolve("virtio-5b0f2c4e91d34a578a7e"), dir.resolve("scsi-5b0f2c4e91d34a578a7e"),
                dir.resolve("scsi-0QEMU_QEMU_HARDDISK_5b0f2c4e91d34a578a7e")), VolumeDevices.candidates(dir, VOLUME));
    }

    @Test
    void aLinkToAFileIsNoDeviceAndTheTimeoutNamesEveryPathTried() throws IOException {
        Path dir = Files.createDirectories(Path.of("target", "volume-devices").toAbsolutePath());
        Path file = Files.writeString(dir.resolve("not-a-disk"), "x");
        Path link = dir.resolve("virtio-" + VolumeDevices.serial(VOLUME));
        Files.deleteIfExists(link);
        Files.createSymbolicLink(link, file);
        IOException e = assertThrows(IOException.class, () -> VolumeDevices.await(dir, VOLUME, Duration.ofMillis(300)));
        assertTrue(e.getMessage().contains("volume " + VOLUME + " did not appear as a block device"), e.getMessage());
        for (Path p : VolumeDevices.candidates(dir, VOLUME)) {
            assertTrue(e.getMessage().contains(p.toString()), e.getMessage());
        }
    }
}
