package org.blockferry.api.cli;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Writes the demo's sample VM: sparse raw images laid out like real disks — a dense system
 * area, runs of written zeros, large holes, scattered data, blocks that are half zeros, and a
 * size that is not a multiple of 4096.
 */
final class SampleDisks {
    record Sample(String name, Path path, long size) {
    }

    private SampleDisks() {
    }

    static List<Sample> create(Path dir) throws IOException {
        Files.createDirectories(dir);
        Sample system = new Sample("system", dir.resolve("system.img"), (1L << 30) + 511);
        Sample data = new Sample("data", dir.resolve("data.img"), 768L << 20);
        SplittableRandom random = new SplittableRandom(20261126);
        try (FileChannel f = open(system)) {
            writeRandom(f, 0, 192L << 20, random);                 // boot + OS: dense
            writeZeros(f, 192L << 20, 32L << 20);                  // allocated but zero (freed blocks)
            for (int i = 0; i < 24; i++) {                         // scattered files, half of each block zero
                long at = (256L << 20) + i * (24L << 20);
                writeRandom(f, at, 512 << 10, random);
                writeZeros(f, at + (512 << 10), 512 << 10);
            }
            writeRandom(f, system.size() - 511 - (2 << 20), (2 << 20) + 511, random); // tail, unaligned end
        }
        try (FileChannel f = open(data)) {
            for (int i = 0; i < 40; i++) {                         // database files: 4 MiB runs
                writeRandom(f, i * (16L << 20), 4L << 20, random);
            }
            writeZeros(f, 700L << 20, 16L << 20);
        }
        return List.of(system, data);
    }

    /** An 8 MiB image with a little of everything, for quick runs. */
    static Sample createSmall(Path dir) throws IOException {
        Sample small = new Sample("small", dir.resolve("small.img"), (8L << 20) + 511);
        SplittableRandom random = new SplittableRandom(1);
        try (FileChannel f = open(small)) {
            writeRandom(f, 0, 1L << 20, random);
            writeZeros(f, 1L << 20, 1L << 20);
            writeRandom(f, 4L << 20, 256 << 10, random);
            writeRandom(f, small.size() - 4096 - 511, 4096 + 511, random);
        }
        return small;
    }

    private static FileChannel open(Sample s) throws IOException {
        Files.deleteIfExists(s.path());
        try (RandomAccessFile raf = new RandomAccessFile(s.path().toFile(), "rw")) {
            raf.setLength(s.size()); // sparse: holes everywhere not written below
        }
        return FileChannel.open(s.path(), StandardOpenOption.WRITE);
    }

    private static void writeRandom(FileChannel f, long offset, long length, SplittableRandom random)
            throws IOException {
        ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
        for (long done = 0; done < length; ) {
            int n = (int) Math.min(buf.capacity(), length - done);
            buf.clear();
            while (buf.position() + 8 <= n) {
                buf.putLong(random.nextLong() | 1L);
            }
            while (buf.position() < n) {
                buf.put((byte) (random.nextInt(255) + 1));
            }
            buf.flip();
            while (buf.hasRemaining()) {
                done += f.write(buf, offset + done);
            }
        }
    }

    private static void writeZeros(FileChannel f, long offset, long length) throws IOException {
        ByteBuffer zeros = ByteBuffer.allocateDirect(1 << 20);
        for (long done = 0; done < length; ) {
            zeros.clear().limit((int) Math.min(zeros.capacity(), length - done));
            while (zeros.hasRemaining()) {
                done += f.write(zeros, offset + done);
            }
        }
    }
}
