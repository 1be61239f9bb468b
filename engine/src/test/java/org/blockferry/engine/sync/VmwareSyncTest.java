package org.blockferry.engine.sync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.plan.DiskPlan;
import org.blockferry.engine.plan.Extent;
import org.blockferry.engine.plan.ExtentKind;
import org.blockferry.engine.vmware.ChangedArea;
import org.junit.jupiter.api.Test;

class VmwareSyncTest {

    @Test
    void fullPlanReadsTheAllocatedAreasAndZeroesTheGaps() {
        DiskPlan p = VmwareSync.plan(100, List.of(new ChangedArea(50, 10), new ChangedArea(10, 20),
                new ChangedArea(25, 10), new ChangedArea(95, 20)), true);
        assertEquals(List.of(new Extent(0, 10, ExtentKind.HOLE), new Extent(10, 25, ExtentKind.DATA),
                new Extent(35, 15, ExtentKind.HOLE), new Extent(50, 10, ExtentKind.DATA),
                new Extent(60, 35, ExtentKind.HOLE), new Extent(95, 5, ExtentKind.DATA)), p.extents());
        assertEquals(40, p.plannedBytes());
    }

    @Test
    void incrementalPlanIsOnlyTheChangedAreas() {
        DiskPlan p = VmwareSync.plan(100, List.of(new ChangedArea(10, 5), new ChangedArea(40, 8)), false);
        assertEquals(List.of(new Extent(10, 5, ExtentKind.DATA), new Extent(40, 8, ExtentKind.DATA)), p.extents());
    }

    @Test
    void datastorePathsMapByTheLongestPrefix() {
        Map<String, String> map = Map.of("[ds1] ", "/mnt/ds1/", "[ds1] vm1/", "/fast/vm1");
        assertEquals(Path.of("/fast/vm1/disk.vmdk"), VmwareSync.mapped(map, "[ds1] vm1/disk.vmdk", "f"));
        assertEquals(Path.of("/mnt/ds1/vm2/disk.vmdk"), VmwareSync.mapped(map, "[ds1] vm2/disk.vmdk", "f"));
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> VmwareSync.mapped(map, "[ds2] vm/disk.vmdk", "disk d0 source"));
        assertTrue(e.getMessage().contains("datastore_map"), e.getMessage());
    }

    @Test
    void theUuidPartOfAChangeIdIsBeforeTheSlash() {
        assertEquals("52 aa bb cc dd ee ff 00 11-22 33 44 55 66 77 88 99",
                VmwareSync.uuid("52 aa bb cc dd ee ff 00 11-22 33 44 55 66 77 88 99/12"));
    }
}
