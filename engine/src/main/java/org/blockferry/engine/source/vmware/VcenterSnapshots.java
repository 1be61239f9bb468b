package org.blockferry.engine.source.vmware;

import java.io.IOException;
import java.util.List;
import org.blockferry.engine.source.vmware.vim.ManagedObject;
import org.blockferry.engine.source.vmware.vim.VimClient;
import org.blockferry.engine.source.vmware.vim.VimFault;
import org.blockferry.engine.source.vmware.vim.VirtualDiskInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The vCenter calls behind a job's snapshot: taking it (CBT on first, the cutover, orphans of
 * the job removed) and removing it. They block (SOAP over HTTP, tasks, a guest's shutdown), so
 * {@link JobSnapshots} runs them off its thread and hears back through {@link Events}.
 */
final class VcenterSnapshots {
    private static final Logger log = LoggerFactory.getLogger(VcenterSnapshots.class);

    private VcenterSnapshots() {
    }

    /** What the calls tell the actor as they happen; called from the calling thread. */
    interface Events {
        /** This job turned CBT on for the VM. */
        void cbtEnabled();

        /** vCenter did not remove {@code snapshot}: it is to be tried again later with a session of its own. */
        void removalFailed(ManagedObject snapshot, Exception failure);
    }

    /** A snapshot just taken: the disks as of it, and whether an orphan of the job was found (a crash). */
    record Taken(ManagedObject snapshot, List<VirtualDiskInfo> disks, boolean afterCrash) {
    }

    /**
     * Takes the job's snapshot of {@code vm}: enables CBT if it is off, shuts the VM down first
     * for a final sync, removes snapshots of the job left by a process that died, and reads the
     * disks (their files and changeIds) from the snapshot's configuration.
     */
    static Taken take(VimClient vim, ManagedObject vm, VmJob job, boolean finalSync, Events events)
            throws IOException {
        String vmPath = job.vmPath();
        if (!vim.changeTrackingEnabled(vm)) {
            vim.enableChangeTracking(vm);
            events.cbtEnabled();
            log.info("event=cbt-enabled vm={} job={}", vmPath, job.jobId());
        }
        if (finalSync) {
            Cutover.shutDown(vim, vm, vmPath, job.jobId(), job.settings().shutdownTimeout());
        }
        List<ManagedObject> orphans = vim.snapshotsNamed(vm, job.snapshotName());
        for (ManagedObject orphan : orphans) {
            // this job's snapshot from a process that died before removing it: no disk holds it now
            log.info("event=snapshot-orphan vm={} job={} snapshot={}", vmPath, job.jobId(), orphan.value());
            remove(vim, orphan, job, events);
        }
        ManagedObject snapshot = vim.createSnapshot(vm, job.snapshotName(),
                "BlockFerry job " + job.jobId() + "; removed when its disks' syncs end", false);
        log.info("event=snapshot-created vm={} job={} snapshot={}", vmPath, job.jobId(), snapshot.value());
        try {
            // the snapshot's own config: the files it froze and their changeIds as of it (the
            // VM's disks now run on new deltas, with changeIds that move on with the guest)
            return new Taken(snapshot, vim.virtualDisks(snapshot), !orphans.isEmpty());
        } catch (IOException | RuntimeException e) {
            remove(vim, snapshot, job, events);
            throw e;
        }
    }

    /** Removes a snapshot; if vCenter does not answer, reports it for removal in the background. */
    static void remove(VimClient vim, ManagedObject snapshot, VmJob job, Events events) {
        try {
            vim.removeSnapshot(snapshot);
            log.info("event=snapshot-removed vm={} job={} snapshot={}", job.vmPath(), job.jobId(),
                    snapshot.value());
        } catch (VimFault.ManagedObjectNotFound gone) {
            log.info("event=snapshot-gone vm={} job={} snapshot={}", job.vmPath(), job.jobId(), snapshot.value());
        } catch (IOException | RuntimeException e) {
            events.removalFailed(snapshot, e);
        }
    }

    /** {@link #remove} with a session of its own (the job's disks have none left). */
    static void removeInOwnSession(ManagedObject snapshot, VmJob job, Events events) {
        try (VsphereSession session = job.session()) {
            remove(session.vim(), snapshot, job, events);
        } catch (IOException | RuntimeException e) {
            events.removalFailed(snapshot, e);
        }
    }

    /** A background retry of a removal that failed, in a session of its own; throws if it failed again. */
    static void removeLate(ManagedObject snapshot, VmJob job) throws IOException {
        try (VsphereSession session = job.session()) {
            session.vim().removeSnapshot(snapshot);
            log.info("event=snapshot-removed vm={} job={} snapshot={} late=true", job.vmPath(), job.jobId(),
                    snapshot.value());
        } catch (VimFault.ManagedObjectNotFound gone) {
            log.info("event=snapshot-gone vm={} job={} snapshot={}", job.vmPath(), job.jobId(), snapshot.value());
        }
    }
}
