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

    /** The sample VM as qcow2 images ({@code system.qcow2}, {@code data.qcow2}), converted with qemu-img. */
    static List<Sample> createQcow2(Path dir, String qemuImg) throws IOException {
        List<Sample> out = new java.util.ArrayList<>();
        for (Sample raw : create(dir)) {
            Path qcow2 = dir.resolve(raw.name() + ".qcow2");
            Files.deleteIfExists(qcow2);
            run(List.of(qemuImg, "convert", "-q", "-f", "raw", "-O", "qcow2", raw.path().toString(), qcow2.toString()));
            Files.delete(raw.path());
            out.add(new Sample(raw.name(), qcow2, raw.size()));
        }
        return out;
    }

    /**
     * What a guest might do between two syncs, through qemu-io: new data in a few places, a zero
     * write, a discard. Returns a line saying what was written.
     */
    static String guestWrites(Sample s, String qemuIo) throws IOException {
        long mib = 1L << 20;
        List<String> cmd = new java.util.ArrayList<>(List.of(qemuIo, "-f", "qcow2",
                "-c", "write -P 0x5a " + 8 * mib + " " + 4 * mib,
                "-c", "write -P 0x3c " + 100 * mib + " " + mib,
                "-c", "write -P 0x77 " + 300 * mib + " " + (256 << 10),
                "-c", "write -z " + 16 * mib + " " + 2 * mib,
                "-c", "discard " + 49 * mib + " " + mib,            // over data on both disks
                s.path().toString()));
        run(cmd);
        return "5.25 MiB of new data, 2 MiB zeroed (write -z), 1 MiB discarded";
    }

    private static void run(List<String> cmd) throws IOException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        try {
            if (!p.waitFor(120, java.util.concurrent.TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IOException(cmd.get(0) + " " + cmd.get(1) + " failed: " + out.strip()
                        + " (qemu-img and qemu-io come with: apt-get install qemu-utils)");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
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
