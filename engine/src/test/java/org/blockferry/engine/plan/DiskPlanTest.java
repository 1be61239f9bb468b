package org.blockferry.engine.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Planning arithmetic: what a run moves and how it is cut into chunks. */
class DiskPlanTest {
    private static final long MIB = 1 << 20;

    @Test
    void plannedBytesAreTheDataNeverTheCapacity() {
        DiskPlan plan = DiskPlan.of(100 * MIB, List.of(new Extent(0, 10 * MIB, ExtentKind.DATA),
                new Extent(10 * MIB, 80 * MIB, ExtentKind.HOLE), new Extent(90 * MIB, 10 * MIB, ExtentKind.DATA)));
        assertEquals(20 * MIB, plan.plannedBytes());
        assertEquals(80 * MIB, plan.skippedBytes());
        assertEquals(100 * MIB, plan.end());
    }

    @Test
    void dataIsSplitIntoChunksOfAtMostTheChunkSizeAndHolesRideAlong() {
        DiskPlan plan = DiskPlan.of(100 * MIB, List.of(new Extent(0, 10 * MIB, ExtentKind.DATA),
                new Extent(10 * MIB, 80 * MIB, ExtentKind.HOLE), new Extent(90 * MIB, 10 * MIB, ExtentKind.DATA)));
        List<Chunk> chunks = all(plan.chunks(4 * MIB));
        long data = 0;
        long expectedStart = 0;
        for (Chunk c : chunks) {
            assertEquals(expectedStart, c.start(), "chunks are contiguous");
            assertFalse(c.dataBytes() > 4 * MIB, "at most one chunk of data: " + c);
            data += c.dataBytes();
            expectedStart = c.end();
        }
        assertEquals(100 * MIB, expectedStart);
        assertEquals(20 * MIB, data);
        assertEquals(List.of(0L, 1L, 2L, 3L, 4L), chunks.stream().map(Chunk::index).toList());
    }

    @Test
    void adjacentExtentsOfOneKindMerge() {
        DiskPlan plan = DiskPlan.of(3 * MIB, List.of(new Extent(0, MIB, ExtentKind.DATA),
                new Extent(MIB, MIB, ExtentKind.DATA), new Extent(2 * MIB, MIB, ExtentKind.ZERO)));
        assertEquals(2, plan.extents().size());
    }

    @Test
    void resumingFromACheckpointDropsWhatIsBelowIt() {
        DiskPlan plan = DiskPlan.of(10 * MIB, List.of(new Extent(0, 6 * MIB, ExtentKind.DATA),
                new Extent(6 * MIB, 4 * MIB, ExtentKind.HOLE)));
        DiskPlan rest = plan.from(4 * MIB);
        assertEquals(2 * MIB, rest.plannedBytes());
        assertEquals(4 * MIB, rest.extents().get(0).offset());
        assertEquals(0, plan.from(10 * MIB).extents().size());
    }

    @Test
    void emptyDiskHasNoChunks() {
        assertFalse(DiskPlan.allData(0).chunks(MIB).hasNext());
        assertEquals(0, DiskPlan.allData(0).plannedBytes());
    }

    @Test
    void invalidExtentsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> DiskPlan.of(MIB, List.of(new Extent(0, 2 * MIB,
                ExtentKind.DATA))));
        assertThrows(IllegalArgumentException.class, () -> DiskPlan.of(4 * MIB, List.of(
                new Extent(MIB, MIB, ExtentKind.DATA), new Extent(0, MIB, ExtentKind.DATA))));
        assertThrows(IllegalArgumentException.class, () -> new Extent(0, 0, ExtentKind.DATA));
    }

    private static List<Chunk> all(Iterator<Chunk> it) {
        List<Chunk> out = new ArrayList<>();
        it.forEachRemaining(out::add);
        return out;
    }
}
