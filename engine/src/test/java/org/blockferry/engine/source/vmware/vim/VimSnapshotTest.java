package org.blockferry.engine.source.vmware.vim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.util.concurrent.TimeUnit;
import org.blockferry.engine.source.vmware.testing.Vcsim;
import org.junit.jupiter.api.Test;

class VimSnapshotTest extends VimFixture {
    @Test
    void removingEverySnapshotBringsTheCountBackToZero() throws IOException {
        ManagedObject first = vim.createSnapshot(vm, "blockferry-1", "replication", false);
        ManagedObject second = vim.createSnapshot(vm, "blockferry-2", "replication", false);
        assertEquals("VirtualMachineSnapshot", first.type());
        assertEquals(2, vim.snapshotCount(vm));
        assertEquals(2, vcsim.snapshots(Vcsim.VM));
        vim.removeSnapshot(second);
        vim.removeSnapshot(first);
        assertEquals(0, vim.snapshotCount(vm));
        assertEquals(0, vcsim.snapshots(Vcsim.VM));
    }

    @Test
    void snapshotsAreFoundByNameAnywhereInTheTree() throws IOException {
        ManagedObject first = vim.createSnapshot(vm, "blockferry-a", "", false);
        ManagedObject child = vim.createSnapshot(vm, "other", "", false);
        ManagedObject grandchild = vim.createSnapshot(vm, "blockferry-a", "", false);
        assertEquals(java.util.List.of(first, grandchild), vim.snapshotsNamed(vm, "blockferry-a"));
        assertEquals(java.util.List.of(child), vim.snapshotsNamed(vm, "other"));
        assertEquals(java.util.List.of(), vim.snapshotsNamed(vm, "none"));
        vim.removeSnapshot(grandchild);
        vim.removeSnapshot(child);
        vim.removeSnapshot(first);
        assertEquals(java.util.List.of(), vim.snapshotsNamed(vm, "blockferry-a"));
    }

    @Test
    void failedSnapshotIsAFaultWithItsType() throws IOException {
        vcsim.failNext("CreateSnapshot_Task", "SnapshotFault");
        VimFault f = assertThrows(VimFault.class, () -> vim.createSnapshot(vm, "x", "", false));
        assertEquals("SnapshotFault", f.faultType());
        assertEquals(0, vim.snapshotCount(vm));
    }

    @Test
    void powerOffStopsTheVm() throws IOException {
        assertEquals("poweredOn", vim.powerState(vm));
        vim.powerOff(vm);
        assertEquals("poweredOff", vim.powerState(vm));
        VimFault again = assertThrows(VimFault.class, () -> vim.powerOff(vm)); // the task fails
        assertEquals("InvalidPowerState", again.faultType());
    }

    @Test
    void shutdownGuestIsAcceptedForARunningVmWhichThenPowersOff() throws Exception {
        assertEquals("poweredOn", vim.powerState(vm));
        vim.shutdownGuest(vm); // accepted: no fault
        // vCenter answers at once and the guest goes down on its own time: wait, bounded
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!"poweredOff".equals(vim.powerState(vm)) && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertEquals("poweredOff", vim.powerState(vm), "the guest shut down");
    }
}
