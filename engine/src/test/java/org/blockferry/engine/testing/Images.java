package org.blockferry.engine.testing;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.SplittableRandom;

/** Builds local raw images with exact layouts: random data, written zeros, holes. */
public final class Images {
    private final Path path;
    private final FileChannel channel;
    private final SplittableRandom random;

    private Images(Path path, long size, long seed) throws IOException {
        this.path = path;
        try (RandomAccessFile raf = new RandomAccessFile(path.toFile(), "rw")) {
            raf.setLength(0);
            raf.setLength(size);
        }
        this.channel = FileChannel.open(path, StandardOpenOption.WRITE);
        this.random = new SplittableRandom(seed);
    }

    /** A sparse image of {@code size} bytes (all hole until written). */
    public static Images sparse(Path path, long size, long seed) throws IOException {
        return new Images(path, size, seed);
    }

    /** Random non-zero-heavy data at {@code [offset, offset + length)}. */
    public Images data(long offset, long length) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(1 << 20);
        for (long done = 0; done < length; ) {
            int n = (int) Math.min(buf.capacity(), length - done);
            byte[] bytes = new byte[n];
            random.nextBytes(bytes);
            bytes[0] |= 1; // never an all-zero segment by chance
            writeFully(ByteBuffer.wrap(bytes), offset + done);
            done += n;
        }
        return this;
    }

    /** Zeros actually written (allocated, reads as zero): the source reports them as data. */
    public Images zeros(long offset, long length) throws IOException {
        byte[] zeros = new byte[1 << 20];
        for (long done = 0; done < length; ) {
            int n = (int) Math.min(zeros.length, length - done);
            writeFully(ByteBuffer.wrap(zeros, 0, n), offset + done);
            done += n;
        }
        return this;
    }

    private void writeFully(ByteBuffer b, long at) throws IOException {
        while (b.hasRemaining()) {
            at += channel.write(b, at);
        }
    }

    public Path close() throws IOException {
        channel.force(true);
        channel.close();
        return path;
    }
}
