package org.blockferry.engine.endpoint;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/** The formats of local images BlockFerry exports itself. */
public enum ImageFormat {
    RAW,
    QCOW2;

    private static final byte[] QCOW2_MAGIC = {'Q', 'F', 'I', (byte) 0xfb};

    /**
     * Reads the image's magic bytes: qcow2 or else raw. {@code options} may hold
     * {@link java.nio.file.LinkOption#NOFOLLOW_LINKS} for a real path that must not have become a symlink.
     */
    public static ImageFormat detect(Path image, java.nio.file.LinkOption... options) throws IOException {
        if (!Files.isRegularFile(image, options)) {
            return RAW; // block devices are raw
        }
        byte[] head = new byte[4];
        try (InputStream in = Files.newInputStream(image, options)) {
            int n = in.readNBytes(head, 0, 4);
            if (n == 4 && java.util.Arrays.equals(head, QCOW2_MAGIC)) {
                return QCOW2;
            }
        }
        return RAW;
    }
}
