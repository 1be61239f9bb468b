package org.blockferry.engine.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

class ChangedAreaPlanTest {

    @Test
    void fullPlanReadsTheAllocatedAreasAndZeroesTheGaps() {
        DiskPlan p = ChangedAreaPlan.of(100, List.of(new ChangedArea(50, 10), new ChangedArea(10, 20),
                new ChangedArea(25, 10), new ChangedArea(95, 20)), true);
        assertEquals(List.of(new Extent(0, 10, ExtentKind.HOLE), new Extent(10, 25, ExtentKind.DATA),
                new Extent(35, 15, ExtentKind.HOLE), new Extent(50, 10, ExtentKind.DATA),
                new Extent(60, 35, ExtentKind.HOLE), new Extent(95, 5, ExtentKind.DATA)), p.extents());
        assertEquals(40, p.plannedBytes());
    }

    @Test
    void incrementalPlanIsOnlyTheChangedAreas() {
        DiskPlan p = ChangedAreaPlan.of(100, List.of(new ChangedArea(10, 5), new ChangedArea(40, 8)), false);
        assertEquals(List.of(new Extent(10, 5, ExtentKind.DATA), new Extent(40, 8, ExtentKind.DATA)), p.extents());
    }
}
