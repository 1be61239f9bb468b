package org.blockferry.nbd.testing;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.concurrent.TimeUnit;

/**
 * SHA-256 of a whole disk, read by an independent tool: {@code nbdcopy URI -} for NBD exports,
 * the file itself for local images. Tests compare a target's checksum with its source's.
 */
public final class DiskChecksum {
    private DiskChecksum() {
    }

    /** Checksum of an NBD export, streamed through nbdcopy (not through our binding). */
    public static String ofUri(String uri) {
        String nbdcopy = TestPeers.require("nbdcopy", "libnbd-bin");
        try {
            Process p = new ProcessBuilder(nbdcopy, "--", uri, "-").redirectError(ProcessBuilder.Redirect.PIPE).start();
            String sum;
            try (InputStream in = p.getInputStream()) {
                sum = digest(in);
            }
            String err = new String(p.getErrorStream().readAllBytes());
            if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new AssertionError("nbdcopy " + uri + " - failed: " + err);
            }
            return sum;
        } catch (IOException e) {
            throw new AssertionError("cannot checksum " + uri + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** Checksum of the first {@code length} bytes of a local raw file. */
    public static String ofFile(Path file, long length) {
        try (InputStream in = Files.newInputStream(file)) {
            return digest(new LimitedStream(in, length));
        } catch (IOException e) {
            throw new AssertionError("cannot checksum " + file + ": " + e, e);
        }
    }

    public static String ofFile(Path file) {
        try {
            return ofFile(file, Files.size(file));
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    /** Checksum of {@code length} zero bytes. */
    public static String ofZeros(long length) {
        MessageDigest md = sha256();
        byte[] zeros = new byte[1 << 20];
        for (long left = length; left > 0; left -= zeros.length) {
            md.update(zeros, 0, (int) Math.min(left, zeros.length));
        }
        return HexFormat.of().formatHex(md.digest());
    }

    private static String digest(InputStream in) throws IOException {
        MessageDigest md = sha256();
        byte[] buf = new byte[1 << 20];
        int n;
        while ((n = in.read(buf)) > 0) {
            md.update(buf, 0, n);
        }
        return HexFormat.of().formatHex(md.digest());
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    private static final class LimitedStream extends InputStream {
        private final InputStream in;
        private long left;

        LimitedStream(InputStream in, long left) {
            this.in = in;
            this.left = left;
        }

        @Override
        public int read() throws IOException {
            if (left <= 0) {
                return -1;
            }
            int b = in.read();
            if (b >= 0) {
                left--;
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (left <= 0) {
                return -1;
            }
            int n = in.read(b, off, (int) Math.min(len, left));
            if (n > 0) {
                left -= n;
            }
            return n;
        }
    }
}
