package org.blockferry.engine.source.vmware.vim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.List;
import org.blockferry.engine.plan.ChangedArea;
import org.blockferry.engine.source.vmware.testing.Vcsim;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VimChangedAreasTest extends VimFixture {
    static final long MIB = 1 << 20;
    static final String CHANGE_ID = "52( [0-9a-f]{2}){7}-[0-9a-f]{2}( [0-9a-f]{2}){7}/\\d+";
    @Test
    void disksHaveCapacityFileNameAndNoChangeIdWhileCbtIsOff() throws IOException {
        List<VirtualDiskInfo> disks = vim.virtualDisks(vm);
        assertEquals(2, disks.size());
        assertEquals("[LocalDS_0] DC0_H0_VM0/disk1.vmdk", disks.get(0).fileName());
        assertEquals("[LocalDS_0] DC0_H0_VM0/disk2.vmdk", disks.get(1).fileName());
        for (VirtualDiskInfo d : disks) {
            assertEquals(64 * MIB, d.capacityInBytes());
            assertNull(d.changeId());
        }
        assertEquals(false, vim.changeTrackingEnabled(vm));
    }

    @Test
    void enablingCbtGivesChangeIdsAndEverySnapshotNewOnes() throws IOException {
        vim.enableChangeTracking(vm);
        assertTrue(vim.changeTrackingEnabled(vm));
        List<VirtualDiskInfo> before = vim.virtualDisks(vm);
        before.forEach(d -> assertTrue(d.changeId().matches(CHANGE_ID), d.changeId()));
        vim.createSnapshot(vm, "s1", "", false);
        List<VirtualDiskInfo> after = vim.virtualDisks(vm);
        for (int i = 0; i < 2; i++) {
            assertTrue(after.get(i).changeId().matches(CHANGE_ID), after.get(i).changeId());
            assertNotEquals(before.get(i).changeId(), after.get(i).changeId());
        }
        assertEquals(1, vim.snapshotCount(vm));
    }

    @Test
    void starListsAllocatedAreasAcrossSeveralReplies() throws IOException {
        vim.enableChangeTracking(vm);
        VirtualDiskInfo disk = vim.virtualDisks(vm).get(0);
        List<long[]> allocated = List.of(new long[] {0, MIB}, new long[] {4 * MIB, 2 * MIB},
                new long[] {10 * MIB, 4096}, new long[] {32 * MIB, MIB}, new long[] {63 * MIB, MIB});
        vcsim.allocate(Vcsim.VM, disk.key(), allocated);
        ManagedObject snap = vim.createSnapshot(vm, "full", "", false);
        List<long[]> inCbtBlocks = List.of(new long[] {0, MIB}, new long[] {4 * MIB, 2 * MIB},
                new long[] {10 * MIB, 65536}, new long[] {32 * MIB, MIB}, new long[] {63 * MIB, MIB});
        assertEquals(areas(inCbtBlocks), vim.queryChangedDiskAreas(vm, snap, disk, "*"),
                "the 4 KiB area is reported as its whole 64 KiB CBT block");
    }

    @Test
    void changedAreasSinceAChangeIdAreExactlyTheWritesBetweenSnapshots() throws IOException {
        vim.enableChangeTracking(vm);
        vcsim.write(Vcsim.VM, vim.virtualDisks(vm).get(0).key(), 0, MIB); // before the base snapshot
        ManagedObject base = vim.createSnapshot(vm, "base", "", false);
        List<VirtualDiskInfo> baseDisks = vim.virtualDisks(base); // the snapshot's: changeIds as of it
        VirtualDiskInfo disk = baseDisks.get(0);
        vcsim.write(Vcsim.VM, disk.key(), 8 * MIB + 65536 - 100, 4096); // straddles two CBT blocks
        vcsim.write(Vcsim.VM, disk.key(), 2 * MIB, MIB);
        vcsim.write(Vcsim.VM, disk.key(), 2 * MIB + 512 * 1024, MIB); // overlaps the previous one
        vcsim.write(Vcsim.VM, disk.key(), 40 * MIB, 65536);
        ManagedObject next = vim.createSnapshot(vm, "next", "", false);
        vcsim.write(Vcsim.VM, disk.key(), 50 * MIB, MIB); // after the snapshot: not part of it

        assertEquals(areas(List.of(new long[] {2 * MIB, MIB + 512 * 1024}, new long[] {8 * MIB, 2 * 65536},
                new long[] {40 * MIB, 65536})), vim.queryChangedDiskAreas(vm, next, disk, disk.changeId()),
                "whole 64 KiB CBT blocks: the 4 KiB write across a block boundary reports both");
        assertNotEquals(disk.changeId(), vim.virtualDisks(vm).get(0).changeId(),
                "the VM's changeId moved on with the writes; the snapshot's stays");
        assertEquals(disk.changeId(), vim.virtualDisks(base).get(0).changeId());
        VirtualDiskInfo other = baseDisks.get(1);
        assertEquals(List.of(), vim.queryChangedDiskAreas(vm, next, other, other.changeId()));
        vim.removeSnapshot(next);
        vim.removeSnapshot(base);
    }

    @Test
    void allocatedAreasComeFromAMappedRawImage(@TempDir Path dir) throws IOException {
        Path image = dir.resolve("disk1.raw");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(48 * MIB);
            f.seek(4 * MIB);
            f.write(new byte[(int) MIB]);
            f.seek(30 * MIB);
            f.write(new byte[2 * (int) MIB]);
        }
        vim.enableChangeTracking(vm);
        VirtualDiskInfo disk = vim.virtualDisks(vm).get(0);
        vcsim.allocateFromImage(Vcsim.VM, disk.key(), image);
        disk = vim.virtualDisks(vm).get(0);
        assertEquals(48 * MIB, disk.capacityInBytes());
        ManagedObject snap = vim.createSnapshot(vm, "full", "", false);
        assertEquals(areas(List.of(new long[] {4 * MIB, MIB}, new long[] {30 * MIB, 2 * MIB})),
                vim.queryChangedDiskAreas(vm, snap, disk, "*"));
    }

    @Test
    void staleOrMalformedChangeIdIsAFileFault() throws IOException {
        vim.enableChangeTracking(vm);
        VirtualDiskInfo disk = vim.virtualDisks(vm).get(0);
        ManagedObject snap = vim.createSnapshot(vm, "s", "", false);
        vcsim.resetTracking(Vcsim.VM, disk.key());
        VimFault stale = assertThrows(VimFault.FileFault.class, () -> vim.queryChangedDiskAreas(vm, snap, disk, disk.changeId()));
        assertTrue(stale.getMessage().contains("disk1.vmdk"), stale.getMessage());
        assertThrows(VimFault.FileFault.class, () -> vim.queryChangedDiskAreas(vm, snap, disk, "not-a-change-id"));
    }

    @Test
    void changedAreasWithCbtOffIsChangeTrackingDisabled() throws IOException {
        VirtualDiskInfo disk = vim.virtualDisks(vm).get(0);
        ManagedObject snap = vim.createSnapshot(vm, "s", "", false);
        VimFault f = assertThrows(VimFault.ChangeTrackingDisabled.class, () -> vim.queryChangedDiskAreas(vm, snap, disk, "*"));
        assertTrue(f.getMessage().contains("not enabled"), f.getMessage());
    }

    @Test
    void unknownDiskKeyIsAnInvalidArgumentFault() throws IOException {
        vim.enableChangeTracking(vm);
        ManagedObject snap = vim.createSnapshot(vm, "s", "", false);
        VirtualDiskInfo missing = new VirtualDiskInfo(4242, 64 * MIB, "[LocalDS_0] nowhere.vmdk", null);
        VimFault f = assertThrows(VimFault.class, () -> vim.queryChangedDiskAreas(vm, snap, missing, "*"));
        assertEquals("InvalidArgument", f.faultType());
        assertTrue(f.getMessage().contains("deviceKey"), f.getMessage());
    }

    @Test
    void unknownVmIsManagedObjectNotFound() {
        ManagedObject gone = new ManagedObject("VirtualMachine", "vm-999999");
        VirtualDiskInfo disk = new VirtualDiskInfo(2000, MIB, "x.vmdk", null);
        assertThrows(VimFault.ManagedObjectNotFound.class, () -> vim.queryChangedDiskAreas(gone, null, disk, "*"));
    }

    private static List<ChangedArea> areas(List<long[]> pairs) {
        return pairs.stream().map(p -> new ChangedArea(p[0], p[1])).toList();
    }
}
