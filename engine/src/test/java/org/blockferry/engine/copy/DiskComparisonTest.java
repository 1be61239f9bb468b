package org.blockferry.engine.copy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.blockferry.engine.endpoint.DiskLocation;
import org.blockferry.engine.source.nbd.NbdDiskSource;
import org.blockferry.engine.testing.EngineTestKit;
import org.blockferry.engine.testing.Images;
import org.blockferry.nbd.NbdOptions;
import org.blockferry.nbd.testing.NbdkitLog;
import org.blockferry.nbd.testing.NbdkitServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** verify: equal disks, the exact first difference, and reading only what must be read. */
class DiskComparisonTest {
    private static EngineTestKit kit;
    private static Path dir;

    @BeforeAll
    static void start() {
        kit = new EngineTestKit("compare");
        dir = kit.dir();
    }

    @AfterAll
    static void stop() {
        kit.close();
    }

    private static DiskComparison.Outcome compare(String a, String b) throws Exception {
        try (NbdDiskSource x = NbdDiskSource.open("source", DiskLocation.parse("source", a), NbdOptions.DEFAULT,
                kit.environment().tools());
             NbdDiskSource y = NbdDiskSource.open("target", DiskLocation.parse("target", b), NbdOptions.DEFAULT,
                     kit.environment().tools())) {
            return DiskComparison.run(x, y, kit.settings(), kit.environment()).toCompletableFuture()
                    .get(2, TimeUnit.MINUTES);
        }
    }

    @Test
    void aCopyIsEqualAndHolesOnBothSidesAreNotRead() throws Exception {
        Path image = Images.sparse(dir.resolve("a.img"), 64L << 20, 1).data(0, 1L << 20).data(40L << 20, 2L << 20)
                .close();
        Path copy = dir.resolve("a-copy.img");
        kit.copy(image.toString(), copy.toString(), kit.settings());
        Path log = dir.resolve("a-copy.log");
        try (NbdkitServer target = NbdkitServer.start(dir, "--filter=log", "-r", "file", copy.toString(),
                "logfile=" + log)) {
            DiskComparison.Outcome o = compare(image.toString(), target.uri());
            assertTrue(o.equal(), o.toString());
            assertEquals(-1, o.firstDifference());
            assertEquals(3L << 20, NbdkitLog.bytes(NbdkitLog.requests(log), "Read"),
                    "only the source's data ranges are read from the target");
        }
    }

    @Test
    void theFirstDifferingByteIsReportedExactly() throws Exception {
        Path image = Images.sparse(dir.resolve("b.img"), 16L << 20, 2).data(0, 8L << 20).close();
        Path copy = dir.resolve("b-copy.img");
        kit.copy(image.toString(), copy.toString(), kit.settings());
        long changed = (5L << 20) + 12345;
        try (RandomAccessFile f = new RandomAccessFile(copy.toFile(), "rw")) {
            f.seek(changed);
            int old = f.read();
            f.seek(changed);
            f.write(old ^ 0xff);
        }
        DiskComparison.Outcome o = compare(image.toString(), copy.toString());
        assertFalse(o.equal());
        assertEquals(changed, o.firstDifference());
    }

    @Test
    void dataWhereTheSourceHasAHoleIsADifference() throws Exception {
        Path image = Images.sparse(dir.resolve("c.img"), 8L << 20, 3).data(0, 4096).close();
        Path other = Images.sparse(dir.resolve("c-other.img"), 8L << 20, 3).data(0, 4096).close();
        try (RandomAccessFile f = new RandomAccessFile(other.toFile(), "rw")) {
            f.seek(7L << 20);
            f.write(1);
        }
        DiskComparison.Outcome o = compare(image.toString(), other.toString());
        assertFalse(o.equal());
        assertEquals(7L << 20, o.firstDifference());
    }

    @Test
    void aSmallerTargetDiffersAtItsEnd() throws Exception {
        Path image = Images.sparse(dir.resolve("d.img"), 8L << 20, 4).data(0, 1L << 20).close();
        Path small = dir.resolve("d-small.img");
        Files.copy(image, small);
        try (RandomAccessFile f = new RandomAccessFile(small.toFile(), "rw")) {
            f.setLength(4L << 20);
        }
        DiskComparison.Outcome o = compare(image.toString(), small.toString());
        assertFalse(o.equal());
        assertEquals(4L << 20, o.firstDifference());
        assertTrue(o.note().contains("smaller"), o.note());
    }
}
