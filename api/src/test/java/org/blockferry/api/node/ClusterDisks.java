package org.blockferry.api.node;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Random;
import org.blockferry.nbd.testing.NbdkitServer;

/**
 * Disks for the cluster tests: random source files served slowly by nbdkit (its {@code rate}
 * filter), empty target files behind nbdkit with its {@code log} filter (every request a node
 * sends is in the log, with its connection).
 */
public final class ClusterDisks {
    private ClusterDisks() {
    }

    /** A file of {@code size} random bytes (one block in eight left zero). */
    static Path randomFile(Path file, long size, long seed) throws IOException {
        Random random = new Random(seed);
        byte[] block = new byte[1 << 20];
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(size);
            for (long at = 0; at < size; at += block.length) {
                if ((at >> 20) % 8 == 7) {
                    continue;
                }
                random.nextBytes(block);
                f.seek(at);
                f.write(block, 0, (int) Math.min(block.length, size - at));
            }
        }
        return file;
    }

    /**
     * {@code file} served at {@code bitsPerSecond}. One thread: nbdkit 1.32 aborts
     * ({@code raw_send_socket: Assertion 'sock >= 0' failed}) when a client is killed while
     * several of its reads sleep in the rate filter.
     */
    static NbdkitServer slowSource(Path dir, Path file, String bitsPerSecond) {
        return NbdkitServer.start(dir, "--threads=1", "--readonly", "--filter=rate", "file", file.toString(),
                "rate=" + bitsPerSecond, "rate-file=" + rateFile(file));
    }

    /** The rate of a source a test no longer holds slow: 100 MB/s, a 64 MiB disk in under a second. */
    private static final String RELEASED = "800M";

    /**
     * Lets the {@link #slowSource}s of {@code files} serve at {@link #RELEASED} from now on: a test
     * holds a copy slow through the moment it examines, then lets the rest go fast instead of
     * waiting out a rate chosen for the worst case. Each rate file is replaced atomically, as
     * nbdkit asks, and read again within about a second.
     */
    static void release(Path... files) throws IOException {
        for (Path file : files) {
            Path next = Files.writeString(file.resolveSibling(file.getFileName() + ".rate.next"), RELEASED + "\n");
            Files.move(next, rateFile(file), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private static Path rateFile(Path file) {
        return file.resolveSibling(file.getFileName() + ".rate");
    }

    /** An empty target file of {@code size} behind nbdkit's log filter ({@code log}). */
    static NbdkitServer loggedTarget(Path dir, Path file, long size, Path log) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(size);
        }
        return NbdkitServer.start(dir, "--filter=log", "file", file.toString(), "logfile=" + log);
    }

    /** A job (JSON) of one disk per source/target pair (d0, d1, ...), in full mode. */
    public static String job(String id, String... sourceTargetPairs) {
        StringBuilder disks = new StringBuilder();
        for (int i = 0; i < sourceTargetPairs.length; i += 2) {
            disks.append(i == 0 ? "" : ", ").append("{\"id\": \"d").append(i / 2).append("\", \"source\": \"")
                    .append(sourceTargetPairs[i]).append("\", \"target\": \"").append(sourceTargetPairs[i + 1])
                    .append("\"}");
        }
        return "{\"job_id\": \"" + id + "\", \"vm\": \"vm-" + id + "\", \"mode\": \"full\", \"disks\": [" + disks
                + "]}";
    }
}
