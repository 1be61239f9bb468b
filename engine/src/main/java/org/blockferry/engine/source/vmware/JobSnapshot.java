package org.blockferry.engine.source.vmware;

import java.util.List;
import org.blockferry.engine.source.vmware.vim.ManagedObject;
import org.blockferry.engine.source.vmware.vim.VirtualDiskInfo;

/**
 * A job's snapshot of a VM, as the job's disks read from it (see {@link JobSnapshots}).
 *
 * @param key           the job's snapshot of the VM on this node ({@link VmJob#key()})
 * @param disks         the VM's disks as of the snapshot: their changeIds are the next tokens
 * @param cbtEnabledNow this job turned Changed Block Tracking on: none of its disks has changes to ask for
 * @param afterCrash    an earlier snapshot of this job was left by a process that died
 */
record JobSnapshot(String key, ManagedObject vm, ManagedObject snapshot, List<VirtualDiskInfo> disks,
                   boolean cbtEnabledNow, boolean afterCrash) {
    JobSnapshot {
        disks = List.copyOf(disks);
    }
}
