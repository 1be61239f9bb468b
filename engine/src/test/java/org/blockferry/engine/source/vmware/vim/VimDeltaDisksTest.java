package org.blockferry.engine.source.vmware.vim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.blockferry.engine.plan.ChangedArea;
import org.blockferry.engine.source.vmware.testing.Vcsim;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.Test;

/**
 * Our simulator as vSphere keeps snapshots: delta disks, the snapshot's own configuration,
 * point-in-time content, and QueryChangedDiskAreas' need for a snapshot of a running VM.
 */
class VimDeltaDisksTest extends VimFixture {
    private static final long MIB = 1 << 20;
    private static final String DISK1 = "[LocalDS_0] " + Vcsim.VM + "/disk1.vmdk";

    @Test
    void aSnapshotMovesTheVmToADeltaAndKeepsTheFileItFrozeAndItsChangeId() throws IOException {
        vim.enableChangeTracking(vm);
        ManagedObject ours = vim.createSnapshot(vm, "ours", "", false);
        VirtualDiskInfo frozen = vim.virtualDisks(ours).get(0);
        VirtualDiskInfo live = vim.virtualDisks(vm).get(0);
        assertEquals(DISK1, frozen.fileName());
        assertEquals(List.of(), frozen.parents());
        assertEquals("[LocalDS_0] " + Vcsim.VM + "/disk1-000001.vmdk", live.fileName());
        assertEquals(List.of(DISK1), live.parents());
        assertEquals(DISK1, live.baseFileName());
        assertEquals(frozen.changeId(), live.changeId(), "no write since the snapshot");

        vcsim.write(Vcsim.VM, live.key(), 0, 4096);
        assertNotEquals(frozen.changeId(), vim.virtualDisks(vm).get(0).changeId(), "the live disk's changeId moves on");
        assertEquals(frozen.changeId(), vim.virtualDisks(ours).get(0).changeId(), "the snapshot's does not");

        ManagedObject theirs = vim.createSnapshot(vm, "someone else's", "", false);
        assertEquals("[LocalDS_0] " + Vcsim.VM + "/disk1-000001.vmdk", vim.virtualDisks(theirs).get(0).fileName());
        VirtualDiskInfo onTwo = vim.virtualDisks(vm).get(0);
        assertEquals("[LocalDS_0] " + Vcsim.VM + "/disk1-000002.vmdk", onTwo.fileName());
        assertEquals(List.of("[LocalDS_0] " + Vcsim.VM + "/disk1-000001.vmdk", DISK1), onTwo.parents());

        vim.removeSnapshot(ours); // its delta (000001) is consolidated into the base
        assertEquals(DISK1, vim.virtualDisks(theirs).get(0).fileName(), "the later snapshot now names the base");
        VirtualDiskInfo after = vim.virtualDisks(vm).get(0);
        assertEquals("[LocalDS_0] " + Vcsim.VM + "/disk1-000002.vmdk", after.fileName());
        assertEquals(List.of(DISK1), after.parents());

        vim.removeSnapshot(theirs);
        VirtualDiskInfo back = vim.virtualDisks(vm).get(0);
        assertEquals(DISK1, back.fileName());
        assertFalse(back.isDelta());
    }

    @Test
    void theContentAtASnapshotIsFrozenAndGoesWithTheSnapshot() throws IOException {
        Path dir = TestPeers.scratchDirectory("vcsim-frozen-");
        Path image = dir.resolve("disk1.vmdk");
        byte[] before = pattern(2 * MIB, 1);
        write(image, 0, before);
        int key = vim.virtualDisks(vm).get(0).key();
        vcsim.allocateFromImage(Vcsim.VM, key, image);
        vim.enableChangeTracking(vm);
        ManagedObject snap = vim.createSnapshot(vm, "s", "", false);
        Path frozen = Path.of(image + "@" + snap.value());
        assertArrayEquals(before, Files.readAllBytes(frozen));

        write(image, MIB, pattern(4096, 2)); // a guest write after the snapshot
        assertArrayEquals(before, Files.readAllBytes(frozen), "the snapshot's content does not change");
        vim.removeSnapshot(snap);
        assertFalse(Files.exists(frozen), "the frozen content goes with the snapshot");
    }

    @Test
    void aRunningVmsChangedAreasNeedASnapshotOfThatVm() throws IOException {
        vim.enableChangeTracking(vm);
        VirtualDiskInfo disk = vim.virtualDisks(vm).get(0);
        assertEquals("poweredOn", vim.powerState(vm));
        VimFault none = assertThrows(VimFault.class, () -> vim.queryChangedDiskAreas(vm, null, disk, "*"));
        assertTrue(none.getMessage().contains("snapshot"), none.getMessage());
        VimFault notASnapshot = assertThrows(VimFault.class, () -> vim.queryChangedDiskAreas(vm, vm, disk, "*"));
        assertTrue(notASnapshot.getMessage().contains("not a snapshot of this virtual machine"),
                notASnapshot.getMessage());
        ManagedObject snap = vim.createSnapshot(vm, "s", "", false);
        List<ChangedArea> areas = vim.queryChangedDiskAreas(vm, snap, disk, "*");
        assertEquals(List.of(), areas, "nothing allocated, nothing written");
    }

    private static byte[] pattern(long length, int seed) {
        byte[] b = new byte[(int) length];
        new java.util.Random(seed).nextBytes(b);
        return b;
    }

    private static void write(Path image, long offset, byte[] data) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.seek(offset);
            f.write(data);
        }
    }
}
