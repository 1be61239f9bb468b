package org.blockferry.engine.actor;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.blockferry.engine.CborSerializable;
import org.blockferry.engine.copy.CopyCancelledException;
import org.blockferry.engine.copy.CopyJob;
import org.blockferry.engine.copy.CopyProgress;
import org.blockferry.engine.copy.CopyResult;
import org.blockferry.engine.copy.CopySettings;
import org.blockferry.engine.copy.DiskComparison;
import org.blockferry.engine.copy.DiskCopy;
import org.blockferry.engine.copy.WriteFence;
import org.blockferry.engine.endpoint.DiskLocation;
import org.blockferry.engine.job.DiskState;
import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.job.JobState.DiskIdentities;
import org.blockferry.engine.plan.CopyMode;
import org.blockferry.engine.plan.ResumePoint;
import org.blockferry.engine.source.ChangeToken;
import org.blockferry.engine.source.DiskSource;
import org.blockferry.engine.source.SourceRequest;
import org.blockferry.engine.target.CloudVolumeTarget;
import org.blockferry.engine.target.DiskTarget;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One disk of a running job. It asks its target's {@link TargetActor} for the change token of
 * its source (and that its job holds the target's lease), opens its source (which decides full
 * or incremental) and target, runs its {@link DiskCopy}, and reports planning, progress and the
 * end to its VmActor. A completed copy's token is recorded by the TargetActor before the disk
 * reports it completed.
 *
 * <p>A transient failure (connection refused or reset, EIO, timeout) crashes the attempt; the
 * supervisor restarts it with exponential backoff and the new attempt resumes from the last
 * flushed checkpoint. Past the retry budget the disk fails. Bad input (a target too small, a
 * missing file) fails at once.
 */
final class DiskActor extends AbstractBehavior<DiskActor.Command> {
    private static final Logger log = LoggerFactory.getLogger(DiskActor.class);

    sealed interface Command {
    }

    /** Stop (cancel): what was written is flushed. */
    enum Stop implements Command {
        INSTANCE
    }

    private record LineageKnown(TargetActor.Lineage lineage, Throwable failure) implements Command {
    }

    private record Opened(DiskSource source, DiskTarget target) implements Command {
    }

    private record OpenFailed(Throwable cause) implements Command {
    }

    private record Progress(CopyProgress progress) implements Command {
    }

    private record CopyEnded(CopyResult result, Throwable failure) implements Command {
    }

    private record Verified(DiskComparison.Outcome outcome, CopyResult result, Throwable failure) implements Command {
    }

    private record TokenRecorded(TargetActor.Lineage lineage, CopyResult result, Throwable failure)
            implements Command {
    }

    private record CleanedUp(CopyResult result, String token) implements Command {
    }

    // ---- what a disk reports (to its VmActor, which forwards it to the job) ----

    @JsonTypeInfo(use = JsonTypeInfo.Id.NAME)
    @JsonSubTypes({@JsonSubTypes.Type(value = Planned.class, name = "planned"),
        @JsonSubTypes.Type(value = Progressed.class, name = "progressed"),
        @JsonSubTypes.Type(value = Retrying.class, name = "retrying"),
        @JsonSubTypes.Type(value = Provisioning.class, name = "provisioning"),
        @JsonSubTypes.Type(value = Completed.class, name = "completed"),
        @JsonSubTypes.Type(value = Failed.class, name = "failed")})
    sealed interface Report extends CborSerializable {
    }

    record Planned(long capacity, long plannedBytes, CopyMode mode, String reason) implements Report {
    }

    record Progressed(CopyProgress progress) implements Report {
    }

    record Retrying(int attempt, String reason) implements Report {
    }

    /** A step of provisioning the disk's target (a CloudStack volume), before its copy; the volume once known. */
    record Provisioning(String step, String volumeId) implements Report {
    }

    record Completed(CopyProgress progress, String changeToken) implements Report {
    }

    record Failed(String reason) implements Report {
    }

    static Behavior<Command> create(String jobId, DiskState disk, JobSpec spec, ResumePoint resume,
                                    ActorRef<VmActor.Command> vm, JobRuntime runtime, WriteFence fence) {
        // Shared by every attempt: the latest flushed checkpoint and the failures in a row.
        AtomicReference<ResumePoint> checkpoint = new AtomicReference<>(resume);
        FailureBudget budget = new FailureBudget(runtime.jobs().maxRetries(), runtime.jobs().retryWindow());
        DiskIdentities ids = disk.identities() != null ? disk.identities() : LocationIdentities.of(spec, disk.id());
        Behavior<Command> attempt = Behaviors.setup(ctx ->
                new DiskActor(ctx, jobId, disk, ids, spec, checkpoint, budget, vm, runtime, fence));
        var jobs = runtime.jobs();
        // The actor decides when the budget is spent; the supervisor only spaces the attempts out.
        return Behaviors.supervise(attempt).onFailure(FailureBudget.TransientDiskFault.class,
                SupervisorStrategy.restartWithBackoff(jobs.minBackoff(), jobs.maxBackoff(), 0.2)
                        .withResetBackoffAfter(jobs.retryWindow())
                        .withLoggingEnabled(false));
    }

    private final String jobId;
    private final DiskState disk;
    private final DiskIdentities ids;
    private final JobSpec spec;
    private final AtomicReference<ResumePoint> checkpoint;
    private final FailureBudget budget;
    private final ActorRef<VmActor.Command> vm;
    private final JobRuntime runtime;
    private final WriteFence fence;
    private DiskSource source;
    private DiskTarget target;
    private DiskCopy copy;
    private boolean planReported;
    /** Volatile: provisioning, on a blocking thread, looks at it between its steps. */
    private volatile boolean stopRequested;

    private DiskActor(ActorContext<Command> context, String jobId, DiskState disk, DiskIdentities ids, JobSpec spec,
                      AtomicReference<ResumePoint> checkpoint, FailureBudget budget, ActorRef<VmActor.Command> vm,
                      JobRuntime runtime, WriteFence fence) {
        super(context);
        this.fence = fence;
        this.jobId = jobId;
        this.disk = disk;
        this.ids = ids;
        this.spec = spec;
        this.checkpoint = checkpoint;
        this.budget = budget;
        this.vm = vm;
        this.runtime = runtime;
        context.pipeToSelf(askTarget(r -> new TargetActor.GetLineage(jobId, ids.source(), r)), LineageKnown::new);
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(LineageKnown.class, this::onLineageKnown)
                .onMessage(Opened.class, this::onOpened)
                .onMessage(OpenFailed.class, f -> onFailure(f.cause()))
                .onMessage(Progress.class, this::onProgress)
                .onMessage(CopyEnded.class, this::onCopyEnded)
                .onMessage(Verified.class, this::onVerified)
                .onMessage(TokenRecorded.class, this::onTokenRecorded)
                .onMessage(CleanedUp.class, this::onCleanedUp)
                .onMessage(Stop.class, this::onStop)
                .onSignal(PostStop.class, s -> onPostStop())
                .build();
    }

    private CompletionStage<TargetActor.Lineage> askTarget(
            org.apache.pekko.japi.function.Function<ActorRef<TargetActor.Lineage>, TargetActor.Command> message) {
        return AskPattern.ask(runtime.peers().location(ids.target()), message, runtime.peers().askTimeout(),
                getContext().getSystem().scheduler());
    }

    private Behavior<Command> onLineageKnown(LineageKnown m) {
        if (m.failure() != null) {
            return onFailure(new IOException("cannot reach the lease of target " + ids.target() + ": "
                    + FailureBudget.reasonOf(m.failure()), m.failure()));
        }
        if (!m.lineage().writer()) {
            return onFailure(new IOException("job " + jobId + " does not hold the lease of target " + ids.target()));
        }
        if (stopRequested) {
            return Behaviors.stopped();
        }
        try {
            fence.check(); // no new connection to the target for a job this node no longer owns
        } catch (WriteFence.Closed closed) {
            return onFailure(closed);
        }
        SourceRequest request = new SourceRequest(jobId, specDisk(), spec.source(), spec.mode(),
                spec.options().finalSync(), m.lineage().token().flatMap(ChangeToken::parse), ids.target(),
                targetLocation().fingerprint());
        DiskEndpoints.Provisioning provisioning = new DiskEndpoints.Provisioning(specDisk().diskOffering(),
                new VolumeLedger(m.lineage().volume()), step -> {
                    if (stopRequested) {
                        throw new CopyCancelledException(disk.id()); // cancelled while provisioning: no next step
                    }
                    report(new Provisioning(step, null));
                });
        getContext().pipeToSelf(DiskEndpoints.open(request, targetLocation(), field("target"), runtime,
                        provisioning),
                (opened, failure) -> failure == null ? new Opened(opened.source(), opened.target())
                        : new OpenFailed(FailureBudget.unwrap(failure)));
        return this;
    }

    private JobSpec.Disk specDisk() {
        return spec.disks().stream().filter(d -> d.id().equals(disk.id())).findFirst().orElseThrow();
    }

    private DiskLocation targetLocation() {
        return DiskLocation.parse(field("target"), disk.target());
    }

    private String field(String side) {
        return "disk " + disk.id() + " " + side;
    }

    private Behavior<Command> onOpened(Opened o) {
        source = o.source();
        target = o.target();
        if (stopRequested) {
            return Behaviors.stopped();
        }
        if (target instanceof CloudVolumeTarget volume) {
            report(new Provisioning("volume " + volume.volumeId() + " ready as " + volume.device(),
                    volume.volumeId()));
        }
        CopySettings settings = runtime.copySettings().withTargetIsZero(
                runtime.copySettings().targetIsZero() || spec.options().targetIsZero());
        ActorRef<Command> self = getContext().getSelf();
        copy = DiskCopy.start(new CopyJob(disk.id(), source, target, settings, checkpoint.get(),
                p -> self.tell(new Progress(p)), fence), runtime.copy());
        getContext().pipeToSelf(copy.result(), CopyEnded::new);
        return this;
    }

    private Behavior<Command> onProgress(Progress m) {
        CopyProgress p = m.progress();
        if (p.phase() == CopyProgress.Phase.PLANNING) {
            return this;
        }
        if (!planReported) {
            planReported = true;
            report(new Planned(p.capacity(), p.plannedBytes(), source.mode(), source.modeReason()));
        }
        checkpoint.set(p.resumePoint());
        if (p.phase() == CopyProgress.Phase.COPYING) {
            report(new Progressed(p));
        }
        return this;
    }

    private Behavior<Command> onCopyEnded(CopyEnded m) {
        copy = null;
        if (m.failure() != null) {
            return onFailure(FailureBudget.unwrap(m.failure()));
        }
        checkpoint.set(m.result().progress().resumePoint());
        if (spec.options().verify() && !stopRequested) {
            DiskTarget written = target;
            if (!(written instanceof CloudVolumeTarget)) {
                written.close(); // a local target is compared through a read-only export
                target = null;
            }
            getContext().pipeToSelf(DiskEndpoints.verify(source, written, targetLocation(), field("target"), runtime),
                    (outcome, failure) -> new Verified(outcome, m.result(), failure));
            return this;
        }
        return recordToken(m.result());
    }

    private Behavior<Command> onVerified(Verified v) {
        if (v.failure() != null) {
            return onFailure(FailureBudget.unwrap(v.failure()));
        }
        if (!v.outcome().equal()) {
            return fail("the target differs from the source at offset " + v.outcome().firstDifference()
                    + " after the copy");
        }
        return recordToken(v.result());
    }

    /** Every planned byte is on the target: the target's lineage records the new token first. */
    private Behavior<Command> recordToken(CopyResult result) {
        String token = source.changeToken(result.progress().capacity(), targetLocation().fingerprint())
                .map(ChangeToken::format).orElse(null);
        getContext().pipeToSelf(askTarget(r -> new TargetActor.RecordToken(jobId, ids.source(), token, r)),
                (lineage, failure) -> new TokenRecorded(lineage, result, failure));
        return this;
    }

    private Behavior<Command> onTokenRecorded(TokenRecorded m) {
        if (m.failure() != null) {
            return onFailure(new IOException("cannot record the change token with target " + ids.target() + ": "
                    + FailureBudget.reasonOf(m.failure()), m.failure()));
        }
        if (!m.lineage().writer()) {
            return fail("job " + jobId + " no longer holds the lease of target " + ids.target()
                    + ": its change token was not recorded");
        }
        DiskSource done = source;
        closeResources(); // the source's export ends: its image is free for qemu-img
        // What the next sync no longer needs goes before the job hears of the completion: the
        // next sync of this disk may start as soon as the job ends.
        String token = m.lineage().token().orElse(null);
        getContext().pipeToSelf(CompletableFuture.runAsync(done::completed, runtime.copy().blocking()),
                (v, failure) -> new CleanedUp(m.result(), token));
        return this;
    }

    private Behavior<Command> onCleanedUp(CleanedUp m) {
        report(new Completed(m.result().progress(), m.token()));
        return Behaviors.stopped();
    }

    private Behavior<Command> onFailure(Throwable cause) {
        closeResources();
        if (stopRequested || cause instanceof CopyCancelledException) {
            return Behaviors.stopped();
        }
        if (WriteFence.Closed.in(cause)) {
            // Another node owns the job now: stop without a report, the job's new owner goes on.
            log.warn("event=disk-fenced job={} disk={} checkpoint={}", jobId, disk.id(), checkpoint.get().offset());
            return Behaviors.stopped();
        }
        String reason = FailureBudget.reasonOf(cause);
        if (!FailureBudget.isTransient(cause)) {
            return fail(reason);
        }
        int failures = budget.failed();
        if (failures > budget.maxRetries()) {
            return fail(FailureBudget.describeGiveUp(cause, budget.maxRetries()));
        }
        log.info("event=disk-retry job={} disk={} retry={} checkpoint={} cause={}", jobId, disk.id(), failures,
                checkpoint.get().offset(), reason);
        report(new Retrying(failures, reason));
        throw new FailureBudget.TransientDiskFault(reason, cause);
    }

    /**
     * The target's TargetActor as the record of its volume, asked from the opening thread (which
     * may wait): each change is recorded, by the lease's writer only, before the next step.
     */
    private final class VolumeLedger implements CloudVolumeTarget.Ledger {
        private final org.apache.pekko.actor.typed.Scheduler scheduler = getContext().getSystem().scheduler();
        private volatile TargetState.Volume volume;

        VolumeLedger(TargetState.Volume known) {
            this.volume = known;
        }

        @Override
        public java.util.Optional<String> volumeId() {
            return java.util.Optional.ofNullable(volume).map(TargetState.Volume::id);
        }

        @Override
        public String attachedTo() {
            return volume == null ? null : volume.attachedTo();
        }

        @Override
        public String handedTo() {
            return volume == null ? null : volume.handedTo();
        }

        @Override
        public void created(String volumeId) throws IOException {
            record(new TargetState.VolumeCreated(volumeId));
            report(new Provisioning("created volume " + volumeId, volumeId));
        }

        @Override
        public void attached(String vmId) throws IOException {
            record(new TargetState.VolumeAttached(vmId));
        }

        @Override
        public void detached() throws IOException {
            record(new TargetState.VolumeDetached());
        }

        @Override
        public void deleted() throws IOException {
            record(new TargetState.VolumeDeleted());
        }

        private void record(TargetState.VolumeChange change) throws IOException {
            volume = TargetQueries.recordVolume(runtime.peers(), scheduler, jobId, ids.target(), change);
        }
    }

    private Behavior<Command> fail(String reason) {
        closeResources();
        report(new Failed(reason));
        return Behaviors.stopped();
    }

    private void report(Report r) {
        vm.tell(new VmActor.FromDisk(disk.id(), r));
    }

    private Behavior<Command> onStop(Stop s) {
        stopRequested = true;
        if (copy != null) {
            copy.cancel(); // CopyEnded follows once the written part is flushed
            return this;
        }
        if (source == null && target == null) {
            return this; // still asking or opening: the answer will stop us
        }
        closeResources();
        return Behaviors.stopped();
    }

    private Behavior<Command> onPostStop() {
        if (copy != null) {
            copy.cancel();
            copy.result().whenComplete((r, e) -> closeResources());
        } else {
            closeResources();
        }
        return this;
    }

    private void closeResources() {
        if (target != null) {
            target.close();
            target = null;
        }
        if (source != null) {
            source.close();
            source = null;
        }
    }
}
