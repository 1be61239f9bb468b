package org.blockferry.api.node;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.blockferry.nbd.testing.DiskChecksum;
import org.blockferry.nbd.testing.NbdkitServer;
import org.blockferry.nbd.testing.QemuNbdServer;
import org.blockferry.nbd.testing.TestPeers;

/**
 * qcow2 test images made and changed by QEMU's own tools (qemu-img, qemu-io), and read back by
 * independent ones (qemu-nbd + nbdcopy for checksums, nbdinfo for maps).
 */
public final class Qcow2Images {
    static final long GRANULARITY = 64 * 1024;
    private static final ObjectMapper JSON = new ObjectMapper();

    private Qcow2Images() {
    }

    public static String qemuImg() {
        return TestPeers.require("qemu-img", "qemu-utils");
    }

    public static String qemuIo() {
        return TestPeers.require("qemu-io", "qemu-utils");
    }

    /** A qcow2 of {@code size} with {@code percent} % random data (converted from nbdkit sparse-random). */
    public static Path create(Path dir, String name, String size, int percent, int seed) {
        Path image = dir.resolve(name);
        try (NbdkitServer data = NbdkitServer.start(dir, "sparse-random", "size=" + size, "percent=" + percent,
                "seed=" + seed)) {
            QemuNbdServer.run(qemuImg(), "convert", "-q", "-f", "raw", "-O", "qcow2", data.uri(), image.toString());
        }
        return image;
    }

    /** One guest write: data, zeros ({@code write -z}) or a discard. */
    public record Write(String kind, long offset, long length) {
        long end() {
            return offset + length;
        }
    }

    /**
     * Scattered guest-like writes worth about {@code bytes}: 64 KiB to 4 MiB each, some zero
     * writes and some discards; returns what was done.
     */
    public static List<Write> scatter(Path image, long capacity, long bytes, long seed) {
        Random random = new Random(seed);
        List<Write> writes = new ArrayList<>();
        List<String> commands = new ArrayList<>(List.of(qemuIo(), "-f", "qcow2"));
        long total = 0;
        int i = 0;
        while (total < bytes) {
            long length = GRANULARITY * (1 + random.nextInt(64)); // 64 KiB .. 4 MiB
            long offset = (Math.abs(random.nextLong()) % ((capacity - length) / 512)) * 512;
            String kind = i % 7 == 3 ? "zero" : i % 7 == 5 ? "discard" : "write";
            String command = switch (kind) {
                case "zero" -> "write -z " + offset + " " + length;
                case "discard" -> "discard " + offset + " " + length;
                default -> "write -P " + (1 + random.nextInt(250)) + " " + offset + " " + length;
            };
            commands.add("-c");
            commands.add(command);
            writes.add(new Write(kind, offset, length));
            total += length;
            i++;
        }
        commands.add(image.toString());
        QemuNbdServer.run(commands.toArray(String[]::new));
        return writes;
    }

    /** The bytes the writes touched, each range widened to the bitmap's granularity. */
    public static long touchedRoundedToGranularity(List<Write> writes) {
        List<long[]> ranges = new ArrayList<>();
        for (Write w : writes) {
            ranges.add(new long[] {w.offset() / GRANULARITY * GRANULARITY,
                (w.end() + GRANULARITY - 1) / GRANULARITY * GRANULARITY});
        }
        ranges.sort((a, b) -> Long.compare(a[0], b[0]));
        long total = 0;
        long end = -1;
        for (long[] r : ranges) {
            long from = Math.max(r[0], end);
            if (r[1] > from) {
                total += r[1] - from;
            }
            end = Math.max(end, r[1]);
        }
        return total;
    }

    /** SHA-256 of the image's guest-visible bytes. */
    public static String checksum(Path dir, Path image) {
        try (QemuNbdServer export = QemuNbdServer.start(dir, image, "-r", "-f", "qcow2")) {
            return DiskChecksum.ofUri(export.uri());
        }
    }

    /** The names of the image's persistent bitmaps. */
    public static List<String> bitmaps(Path image) throws Exception {
        JsonNode info = JSON.readTree(QemuNbdServer.run(qemuImg(), "info", "-U", "--output=json", image.toString()));
        List<String> names = new ArrayList<>();
        info.path("format-specific").path("data").path("bitmaps").forEach(b -> names.add(b.path("name").asText()));
        return names;
    }

    /**
     * The data bytes inside the ranges {@code bitmap} marks dirty: what an incremental sync must
     * read, measured with nbdinfo over qemu-nbd (neither is BlockFerry's code).
     */
    public static long dirtyDataBytes(Path dir, Path image, String bitmap) throws Exception {
        String nbdinfo = TestPeers.require("nbdinfo", "libnbd-bin");
        try (QemuNbdServer export = QemuNbdServer.start(dir, image, "-r", "-f", "qcow2", "-B", bitmap)) {
            List<long[]> dirty = map(nbdinfo, export.uri(), "qemu:dirty-bitmap:" + bitmap, 1, 1);
            List<long[]> data = map(nbdinfo, export.uri(), "base:allocation", 2, 0); // not zero
            long total = 0;
            for (long[] d : dirty) {
                for (long[] a : data) {
                    long from = Math.max(d[0], a[0]);
                    long to = Math.min(d[1], a[1]);
                    if (to > from) {
                        total += to - from;
                    }
                }
            }
            return total;
        }
    }

    /** Ranges of {@code context} whose flags masked by {@code mask} equal {@code want}. */
    private static List<long[]> map(String nbdinfo, String uri, String context, int mask, int want) throws Exception {
        String out = QemuNbdServer.run(nbdinfo, "--json", "--map=" + context, uri);
        List<long[]> ranges = new ArrayList<>();
        for (JsonNode e : JSON.readTree(out)) {
            if ((e.path("type").asInt() & mask) == want) {
                long offset = e.path("offset").asLong();
                ranges.add(new long[] {offset, offset + e.path("length").asLong()});
            }
        }
        return ranges;
    }
}
