package org.blockferry.engine.source.qemu;

import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32;

/**
 * Names of BlockFerry's qcow2 bitmaps: {@code bf-<target hash>-<job id>}. The hash keeps the
 * bitmaps of one target apart from those of another target of the same image, so cleaning up
 * one chain never breaks the other.
 */
final class BitmapNames {
    private BitmapNames() {
    }

    static String family(String target) {
        CRC32 crc = new CRC32();
        crc.update(target.getBytes(StandardCharsets.UTF_8));
        return String.format("bf-%08x", crc.getValue());
    }

    static String forJob(String family, String jobId) {
        return family + "-" + jobId;
    }

    static boolean inFamily(String family, String bitmap) {
        return bitmap.startsWith(family + "-");
    }
}
