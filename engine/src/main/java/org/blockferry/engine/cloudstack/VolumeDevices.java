package org.blockferry.engine.cloudstack;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Where an attached CloudStack volume appears on this node. KVM gives the guest's disk the
 * volume's UUID without dashes, cut to 20 characters, as its serial; udev links it under
 * {@code /dev/disk/by-id} as {@code virtio-SERIAL}, or {@code scsi-SERIAL} /
 * {@code scsi-0QEMU_QEMU_HARDDISK_SERIAL} on virtio-scsi.
 */
public final class VolumeDevices {
    /** S_IFMT and S_IFBLK of stat(2). */
    private static final int TYPE_MASK = 0170000;
    private static final int BLOCK_DEVICE = 0060000;
    private static final long POLL_MS = 100;

    private VolumeDevices() {
    }

    /** The disk serial KVM gives the volume: its UUID without dashes, the first 20 characters. */
    public static String serial(String volumeId) {
        String s = volumeId.replace("-", "");
        return s.length() > 20 ? s.substring(0, 20) : s;
    }

    /** The links under which the volume may appear, virtio first. */
    public static List<Path> candidates(Path deviceDir, String volumeId) {
        String serial = serial(volumeId);
        return List.of(deviceDir.resolve("virtio-" + serial), deviceDir.resolve("scsi-" + serial),
                deviceDir.resolve("scsi-0QEMU_QEMU_HARDDISK_" + serial));
    }

    /**
     * Waits, polling, until one candidate resolves to a block device and returns that device's
     * real path ({@code /dev/vdc}). Not there within {@code timeout}: an IOException naming the
     * volume and every path tried.
     */
    public static Path await(Path deviceDir, String volumeId, Duration timeout) throws IOException {
        List<Path> candidates = candidates(deviceDir, volumeId);
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            for (Path p : candidates) {
                Path device = blockDevice(p);
                if (device != null) {
                    return device;
                }
            }
            if (System.nanoTime() - deadline > 0) {
                throw new IOException("volume " + volumeId + " did not appear as a block device within " + timeout
                        + "; tried " + candidates.stream().map(Path::toString).collect(Collectors.joining(", ")));
            }
            try {
                Thread.sleep(POLL_MS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while waiting for volume " + volumeId + " to appear", e);
            }
        }
    }

    /** The real path of the block device a link leads to; null while there is none (udev may be midway). */
    private static Path blockDevice(Path link) {
        try {
            Path real = link.toRealPath();
            return isBlockDevice(real) ? real : null;
        } catch (IOException e) {
            return null;
        }
    }

    static boolean isBlockDevice(Path path) throws IOException {
        return ((Integer) Files.getAttribute(path, "unix:mode") & TYPE_MASK) == BLOCK_DEVICE;
    }
}
