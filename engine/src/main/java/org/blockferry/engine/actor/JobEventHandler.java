package org.blockferry.engine.actor;

import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventHandlerBuilder;
import org.blockferry.engine.actor.JobActor.DiskCompleted;
import org.blockferry.engine.actor.JobActor.DiskFailed;
import org.blockferry.engine.actor.JobActor.DiskPlanned;
import org.blockferry.engine.actor.JobActor.DiskProgressed;
import org.blockferry.engine.actor.JobActor.DiskProvisioning;
import org.blockferry.engine.actor.JobActor.DiskResumed;
import org.blockferry.engine.actor.JobActor.DiskRetried;
import org.blockferry.engine.actor.JobActor.Event;
import org.blockferry.engine.actor.JobActor.JobCancelRequested;
import org.blockferry.engine.actor.JobActor.JobCancelled;
import org.blockferry.engine.actor.JobActor.JobCompleted;
import org.blockferry.engine.actor.JobActor.JobFailed;
import org.blockferry.engine.actor.JobActor.JobRunsOn;
import org.blockferry.engine.actor.JobActor.JobStarted;
import org.blockferry.engine.actor.JobActor.JobSubmitted;
import org.blockferry.engine.actor.JobActor.JobWaiting;
import org.blockferry.engine.job.JobState.JobStatus;
import org.blockferry.engine.job.JobState;

/**
 * The job's event handler: how each event changes a {@link JobState}. The one fold of a job's
 * events, used by its actor (live and in recovery), by the read side's projection and by the
 * event stream, so none of them can disagree.
 */
public final class JobEventHandler {
    private static final EventHandler<JobState, Event> HANDLER = EventHandlerBuilder.<JobState, Event>builder()
            .forAnyState()
            .onEvent(JobSubmitted.class, (s, e) -> s.submitted(e.spec(), e.identities(), e.at()))
            .onEvent(JobWaiting.class, (s, e) -> s.waiting(e.reason()))
            .onEvent(JobStarted.class, (s, e) -> s.started(e.at()))
            .onEvent(JobRunsOn.class, (s, e) -> s.runsOn(e.node()))
            .onEvent(DiskPlanned.class, (s, e) -> s.withDisk(e.disk(),
                    d -> d.planned(e.mode(), e.reason(), e.capacity(), e.plannedBytes(), e.at())))
            .onEvent(DiskProgressed.class, (s, e) -> s.withDisk(e.disk(), d -> d.progressed(e.checkpoint(),
                    e.bytesDone(), e.bytesWritten(), e.bytesZeroed(), e.bytesSkipped(), e.bytesZeroSent(),
                    e.throughputBps(), e.etaSeconds(), e.requestRetries(), e.attemptRequestRetries(), e.at())))
            .onEvent(DiskRetried.class, (s, e) -> s.withDisk(e.disk(), d -> d.retried(e.reason())))
            .onEvent(DiskProvisioning.class, (s, e) -> s.withDisk(e.disk(), d -> d.provisioning(e.step(), e.volumeId())))
            .onEvent(DiskResumed.class, (s, e) -> s.withDisk(e.disk(),
                    d -> d.resumed(Math.max(0, e.bytesDoneBefore() - e.checkpoint().bytesDone()))))
            .onEvent(DiskCompleted.class, (s, e) -> s.withDisk(e.disk(), d -> d.completed(e.changeToken(), e.at())))
            .onEvent(DiskFailed.class, (s, e) -> s.withDisk(e.disk(), d -> d.failed(e.reason(), e.at())))
            .onEvent(JobActor.CutoverProgressed.class, (s, e) -> s.cutoverAt(e.step(), e.conversion(), e.vmId()))
            .onEvent(JobCancelRequested.class, (s, e) -> s.withStatus(JobStatus.CANCELLING, e.at(), null))
            .onEvent(JobCompleted.class, (s, e) -> s.withStatus(JobStatus.COMPLETED, e.at(), null))
            .onEvent(JobFailed.class, (s, e) -> s.withStatus(JobStatus.FAILED, e.at(), e.reason()))
            .onEvent(JobCancelled.class, (s, e) -> s.withStatus(JobStatus.CANCELLED, e.at(), null))
            .build();

    private JobEventHandler() {
    }

    /** The handler, as the actor installs it. */
    public static EventHandler<JobState, Event> handler() {
        return HANDLER;
    }

    /** The state after {@code event}. */
    public static JobState apply(JobState state, Event event) {
        return HANDLER.apply(state, event);
    }
}
