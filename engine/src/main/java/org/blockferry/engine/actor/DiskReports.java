package org.blockferry.engine.actor;

import java.util.List;
import org.blockferry.engine.actor.JobActor.DiskCompleted;
import org.blockferry.engine.actor.JobActor.DiskFailed;
import org.blockferry.engine.actor.JobActor.DiskPlanned;
import org.blockferry.engine.actor.JobActor.DiskProgressed;
import org.blockferry.engine.actor.JobActor.DiskRetried;
import org.blockferry.engine.actor.JobActor.Event;
import org.blockferry.engine.copy.CopyProgress;
import org.blockferry.engine.job.DiskState;
import org.blockferry.engine.job.JobState.DiskStatus;
import org.blockferry.engine.job.JobState;

/** What a disk's report means for its job: the events to persist (none for a report that changes nothing). */
final class DiskReports {
    private DiskReports() {
    }

    static List<Event> events(DiskState disk, DiskActor.Report report, long at) {
        if (report instanceof DiskActor.Planned p) {
            boolean same = disk.plannedBytes() == p.plannedBytes() && disk.capacity() == p.capacity()
                    && disk.mode() == p.mode();
            return same ? List.of() // re-planned after a retry: nothing new
                    : List.of(new DiskPlanned(disk.id(), p.capacity(), p.plannedBytes(), p.mode(), p.reason(), at));
        }
        if (report instanceof DiskActor.Progressed p) {
            return List.of(progressed(disk, p.progress(), at));
        }
        if (report instanceof DiskActor.Provisioning p) {
            return List.of(new JobActor.DiskProvisioning(disk.id(), p.step(), p.volumeId(), at));
        }
        if (report instanceof DiskActor.Retrying r) {
            return List.of(new DiskRetried(disk.id(), r.attempt(), r.reason(), at));
        }
        if (report instanceof DiskActor.Completed c) {
            return List.of(progressed(disk, c.progress(), at), new DiskCompleted(disk.id(), c.changeToken(), at));
        }
        DiskActor.Failed f = (DiskActor.Failed) report;
        return List.of(new DiskFailed(disk.id(), f.reason(), at));
    }

    /** Why the job failed when its disks ended: the failed disks and their errors; null when every disk completed. */
    static String failureOf(JobState state) {
        if (state.allDisksEnded() && state.disks().values().stream().noneMatch(d -> d.status() == DiskStatus.FAILED)) {
            return null;
        }
        return state.disks().values().stream().filter(d -> d.status() == DiskStatus.FAILED)
                .map(d -> d.id() + ": " + d.error()).reduce((a, b) -> a + "; " + b)
                .orElse("the disks stopped before completing");
    }

    private static DiskProgressed progressed(DiskState disk, CopyProgress p, long at) {
        long total = disk.requestRetries() + Math.max(0, p.requestRetries() - disk.attemptRequestRetries());
        return new DiskProgressed(disk.id(), p.resumePoint(), p.bytesDone(), p.bytesWritten(), p.bytesZeroed(),
                p.bytesSkipped(), p.zeroSentBytes(), p.throughputBps(), p.etaSeconds(), total, p.requestRetries(), at);
    }
}
