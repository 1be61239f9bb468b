package org.blockferry.engine.actor;

import org.blockferry.engine.actor.JobActor.DiskCompleted;
import org.blockferry.engine.actor.JobActor.DiskFailed;
import org.blockferry.engine.actor.JobActor.DiskPlanned;
import org.blockferry.engine.actor.JobActor.DiskProgressed;
import org.blockferry.engine.actor.JobActor.DiskRetried;
import org.blockferry.engine.actor.JobActor.JobStarted;
import org.blockferry.engine.actor.JobActor.JobSubmitted;
import org.blockferry.engine.copy.ResumePoint;
import org.blockferry.engine.job.JobState;
import org.blockferry.engine.job.JobState.DiskState;
import org.blockferry.engine.job.JobState.DiskStatus;
import org.blockferry.engine.job.JobState.JobStatus;

/**
 * How each event changes a job's state. Pure functions: the live actor, its recovery and any
 * reader of the journal (the API's event stream) go through exactly these, so they cannot disagree.
 */
public final class JobStates {
    private JobStates() {
    }

    /** The state after {@code e}. */
    public static JobState apply(JobState s, JobActor.Event e) {
        if (e instanceof JobSubmitted x) {
            return submitted(s, x);
        } else if (e instanceof JobStarted x) {
            return started(s, x);
        } else if (e instanceof DiskPlanned x) {
            return planned(s, x);
        } else if (e instanceof DiskProgressed x) {
            return progressed(s, x);
        } else if (e instanceof DiskRetried x) {
            return retried(s, x);
        } else if (e instanceof DiskCompleted x) {
            return completed(s, x);
        } else if (e instanceof DiskFailed x) {
            return failed(s, x);
        } else if (e instanceof JobActor.JobCancelRequested x) {
            return status(s, JobStatus.CANCELLING, x.at(), null);
        } else if (e instanceof JobActor.JobCompleted x) {
            return status(s, JobStatus.COMPLETED, x.at(), null);
        } else if (e instanceof JobActor.JobFailed x) {
            return status(s, JobStatus.FAILED, x.at(), x.reason());
        } else if (e instanceof JobActor.JobCancelled x) {
            return status(s, JobStatus.CANCELLED, x.at(), null);
        }
        return s; // DiskResumed: the figures it carries are already in the state
    }

    static JobState submitted(JobState s, JobSubmitted e) {
        return s.submitted(e.spec(), e.at());
    }

    static JobState started(JobState s, JobStarted e) {
        return s.started(e.at());
    }

    static JobState planned(JobState s, DiskPlanned e) {
        DiskState d = s.disk(e.disk());
        return s.withDisk(new DiskState(d.id(), DiskStatus.COPYING, e.mode(), e.reason(), e.capacity(),
                e.plannedBytes(), Math.min(d.bytesDone(), e.plannedBytes()), d.bytesWritten(), d.bytesZeroed(),
                d.bytesSkipped(), d.bytesZeroSent(), d.checkpoint(), d.throughputBps(), d.etaSeconds(), d.retries(),
                d.requestRetries(), d.attemptRequestRetries(), d.changeToken(),
                d.startedAt() == 0 ? e.at() : d.startedAt(), 0, null));
    }

    /** Counters never go backwards: a retry resumes from its checkpoint and catches up. */
    static JobState progressed(JobState s, DiskProgressed e) {
        DiskState d = s.disk(e.disk());
        return s.withDisk(new DiskState(d.id(), d.status() == DiskStatus.PENDING ? DiskStatus.COPYING : d.status(),
                d.mode(), d.modeReason(), d.capacity(), d.plannedBytes(),
                Math.min(d.plannedBytes(), Math.max(d.bytesDone(), e.bytesDone())),
                Math.max(d.bytesWritten(), e.bytesWritten()), Math.max(d.bytesZeroed(), e.bytesZeroed()),
                Math.max(d.bytesSkipped(), e.bytesSkipped()), Math.max(d.bytesZeroSent(), e.bytesZeroSent()),
                e.checkpoint().offset() >= d.checkpoint().offset() ? e.checkpoint() : d.checkpoint(),
                e.throughputBps(), e.etaSeconds(), d.retries(), Math.max(d.requestRetries(), e.requestRetries()),
                e.attemptRequestRetries(), d.changeToken(), d.startedAt() == 0 ? e.at() : d.startedAt(),
                d.finishedAt(), d.error()));
    }

    static JobState retried(JobState s, DiskRetried e) {
        DiskState d = s.disk(e.disk());
        return s.withDisk(new DiskState(d.id(), d.status(), d.mode(), d.modeReason(), d.capacity(), d.plannedBytes(),
                d.bytesDone(), d.bytesWritten(), d.bytesZeroed(), d.bytesSkipped(), d.bytesZeroSent(), d.checkpoint(), 0,
                -1, d.retries() + 1, d.requestRetries(), 0, d.changeToken(), d.startedAt(), d.finishedAt(),
                e.reason()));
    }

    static JobState completed(JobState s, DiskCompleted e) {
        DiskState d = s.disk(e.disk());
        return s.withDisk(new DiskState(d.id(), DiskStatus.COMPLETED, d.mode(), d.modeReason(), d.capacity(),
                d.plannedBytes(), d.plannedBytes(), d.bytesWritten(), d.bytesZeroed(), d.bytesSkipped(),
                d.bytesZeroSent(), new ResumePoint(Math.max(d.checkpoint().offset(), d.capacity()), d.plannedBytes(),
                        d.bytesWritten(), d.bytesZeroed(), d.bytesSkipped(), d.bytesZeroSent()), 0, 0, d.retries(),
                d.requestRetries(), d.attemptRequestRetries(), e.changeToken(), d.startedAt(), e.at(), null));
    }

    static JobState failed(JobState s, DiskFailed e) {
        DiskState d = s.disk(e.disk());
        return s.withDisk(new DiskState(d.id(), DiskStatus.FAILED, d.mode(), d.modeReason(), d.capacity(),
                d.plannedBytes(), d.bytesDone(), d.bytesWritten(), d.bytesZeroed(), d.bytesSkipped(),
                d.bytesZeroSent(), d.checkpoint(), 0, -1, d.retries(), d.requestRetries(), d.attemptRequestRetries(),
                d.changeToken(), d.startedAt(), e.at(), e.reason()));
    }

    static JobState status(JobState s, JobStatus status, long at, String reason) {
        return s.withStatus(status, at, reason);
    }

    /** Where a disk resumes: its last persisted checkpoint with the counters as of that offset. */
    static ResumePoint resumePointOf(JobState s, String disk) {
        DiskState d = s.disk(disk);
        return d == null ? ResumePoint.START : d.checkpoint();
    }
}
