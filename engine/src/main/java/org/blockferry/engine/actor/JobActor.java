package org.blockferry.engine.actor;

import java.time.Duration;
import java.util.Set;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.sharding.typed.ClusterShardingSettings;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityTypeKey;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.RecoveryCompleted;
import org.apache.pekko.persistence.typed.javadsl.CommandHandler;
import org.apache.pekko.persistence.typed.javadsl.Effect;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehavior;
import org.apache.pekko.persistence.typed.javadsl.RetentionCriteria;
import org.apache.pekko.persistence.typed.javadsl.SignalHandler;
import org.blockferry.engine.CborSerializable;
import org.blockferry.engine.copy.CopyProgress;
import org.blockferry.engine.copy.ResumePoint;
import org.blockferry.engine.job.CopyMode;
import org.blockferry.engine.job.JobRuntime;
import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.job.JobState;
import org.blockferry.engine.job.JobState.DiskState;
import org.blockferry.engine.job.JobState.DiskStatus;
import org.blockferry.engine.job.JobState.JobStatus;

/**
 * One replication job, event-sourced and sharded by job id. It owns the job's truth — spec,
 * status, each disk's planned bytes, progress and checkpoint — and a {@link VmActor} child that
 * runs the disks while the job runs. After a crash it recovers from its events and resumes the
 * disks from their checkpoints.
 */
public final class JobActor extends EventSourcedBehavior<JobActor.Command, JobActor.Event, JobState> {

    public static final EntityTypeKey<Command> TYPE_KEY = EntityTypeKey.create(Command.class, "ReplicationJob");
    /** The tag of every job event: the read side's projection follows it. */
    public static final String TAG = "replication-job";

    // ---- protocol ----

    public sealed interface Command extends CborSerializable {
    }

    /** Submits the job; a repeated submission with the same spec answers with the same job. */
    public record Submit(JobSpec spec, ActorRef<JobReply> replyTo) implements Command {
    }

    /** Asks for the current state (for progress displays). */
    public record Get(ActorRef<JobState> replyTo) implements Command {
    }

    /** Stops the disks, flushes what was written, and ends the job as cancelled. */
    public record Cancel(ActorRef<JobReply> replyTo) implements Command {
    }

    /** Wakes the entity after a node start: an unfinished job resumes by itself. */
    public enum Resume implements Command {
        INSTANCE
    }

    /** The node granted this job a running slot. */
    enum SlotGranted implements Command {
        INSTANCE
    }

    /** From the VmActor: a disk was planned, progressed, retried, completed or failed. */
    record DiskReport(String disk, Report report) implements Command {
    }

    /** From the VmActor: every disk it ran has ended (or was stopped on cancel). */
    enum VmEnded implements Command {
        INSTANCE
    }

    /** No message for {@link #PASSIVATE_AFTER}: a job that has ended may leave memory. */
    enum Idle implements Command {
        INSTANCE
    }

    /** What a disk reports. */
    sealed interface Report extends CborSerializable {
    }

    record Planned(long capacity, long plannedBytes, CopyMode mode, String reason) implements Report {
    }

    record Progressed(CopyProgress progress) implements Report {
    }

    record Retrying(int attempt, String reason) implements Report {
    }

    record Completed(CopyProgress progress, String changeToken) implements Report {
    }

    record Failed(String reason) implements Report {
    }

    // ---- events: one per fact ----

    public sealed interface Event extends CborSerializable {
        /** When it happened (epoch milliseconds). */
        long at();
    }

    public record JobSubmitted(JobSpec spec, long at) implements Event {
    }

    public record JobStarted(long at) implements Event {
    }

    public record DiskPlanned(String disk, long capacity, long plannedBytes, CopyMode mode, String reason, long at)
            implements Event {
    }

    /** {@code requestRetries} is the disk's total over all attempts; {@code attemptRequestRetries} this attempt's. */
    public record DiskProgressed(String disk, ResumePoint checkpoint, long bytesDone, long bytesWritten,
                                 long bytesZeroed, long bytesSkipped, long bytesZeroSent, double throughputBps,
                                 long etaSeconds,
                                 long requestRetries, long attemptRequestRetries, long at) implements Event {
    }

    public record DiskRetried(String disk, int attempt, String reason, long at) implements Event {
    }

    /**
     * After a restart of the node, a disk starts again from {@code checkpoint}; it had done
     * {@code bytesDoneBefore}: the difference is copied again.
     */
    public record DiskResumed(String disk, ResumePoint checkpoint, long bytesDoneBefore, long at) implements Event {
    }

    public record DiskCompleted(String disk, String changeToken, long at) implements Event {
    }

    public record DiskFailed(String disk, String reason, long at) implements Event {
    }

    public record JobCancelRequested(long at) implements Event {
    }

    public record JobCompleted(long at) implements Event {
    }

    public record JobFailed(String reason, long at) implements Event {
    }

    public record JobCancelled(long at) implements Event {
    }

    // ---- wiring ----

    /** Registers the entity with cluster sharding on this node. */
    public static void init(ActorSystem<?> system, JobRuntime runtime) {
        // No automatic passivation: it counts only messages that come through the shard region, so
        // it would stop a job that is queued, or copying for hours (its disks report to it
        // directly). A job passivates itself once it has ended and gone idle.
        ClusterSharding.get(system).init(Entity.of(TYPE_KEY, ctx -> create(ctx.getEntityId(), runtime, ctx.getShard()))
                .withSettings(ClusterShardingSettings.create(system).withNoPassivationStrategy()));
    }

    public static Behavior<Command> create(String jobId, JobRuntime runtime) {
        return create(jobId, runtime, null);
    }

    private static Behavior<Command> create(String jobId, JobRuntime runtime,
                                            ActorRef<ClusterSharding.ShardCommand> shard) {
        return Behaviors.setup(ctx -> {
            ctx.setReceiveTimeout(PASSIVATE_AFTER, Idle.INSTANCE);
            return new JobActor(ctx, jobId, runtime, shard);
        });
    }

    private final ActorContext<Command> context;
    private final String jobId;
    private final JobRuntime runtime;
    private final ActorRef<ClusterSharding.ShardCommand> shard;
    private ActorRef<VmActor.Command> vm;
    private ActorRef<JobReply> cancelReplyTo;

    private JobActor(ActorContext<Command> context, String jobId, JobRuntime runtime,
                     ActorRef<ClusterSharding.ShardCommand> shard) {
        super(PersistenceId.of(TYPE_KEY.name(), jobId));
        this.context = context;
        this.jobId = jobId;
        this.runtime = runtime;
        this.shard = shard;
    }

    @Override
    public JobState emptyState() {
        return JobState.empty(jobId);
    }

    @Override
    public Set<String> tagsFor(Event event) {
        return Set.of(TAG);
    }

    @Override
    public RetentionCriteria retentionCriteria() {
        return RetentionCriteria.snapshotEvery(runtime.jobs().snapshotEvery(), 2);
    }

    @Override
    public SignalHandler<JobState> signalHandler() {
        return newSignalHandlerBuilder().onSignal(RecoveryCompleted.instance(), this::onRecovered).build();
    }

    // ---- commands ----

    @Override
    public CommandHandler<Command, Event, JobState> commandHandler() {
        return newCommandHandlerBuilder().forAnyState()
                .onCommand(Submit.class, this::onSubmit)
                .onCommand(Get.class, (state, c) -> Effect().none().thenRun(s -> c.replyTo().tell(s)))
                .onCommand(Cancel.class, this::onCancel)
                .onCommand(Resume.class, (state, c) -> Effect().none())
                .onCommand(SlotGranted.class, this::onSlotGranted)
                .onCommand(DiskReport.class, this::onDiskReport)
                .onCommand(VmEnded.class, this::onVmEnded)
                .onCommand(Idle.class, this::onIdle)
                .build();
    }

    private Effect<Event, JobState> onSubmit(JobState state, Submit c) {
        if (state.status() == JobStatus.NEW) {
            return Effect().persist(new JobSubmitted(c.spec(), now()))
                    .thenRun(s -> {
                        c.replyTo().tell(new JobReply.Accepted(s));
                        requestSlot(s);
                    });
        }
        if (state.spec().equals(c.spec())) {
            return Effect().none().thenRun(s -> c.replyTo().tell(new JobReply.Accepted(s)));
        }
        return Effect().none().thenRun(s -> c.replyTo().tell(new JobReply.Rejected(JobReply.Reason.CONFLICT,
                "job " + jobId + " already exists with a different spec")));
    }

    private Effect<Event, JobState> onCancel(JobState state, Cancel c) {
        if (state.status() == JobStatus.NEW) {
            return Effect().none().thenRun(s -> c.replyTo().tell(new JobReply.Rejected(JobReply.Reason.UNKNOWN_JOB,
                    "no job " + jobId)));
        }
        if (state.status().isFinal()) {
            return Effect().none().thenRun(s -> c.replyTo().tell(new JobReply.Rejected(
                    JobReply.Reason.ALREADY_FINISHED, "job " + jobId + " has already ended (" + s.status().json() + ")")));
        }
        if (state.status() == JobStatus.CANCELLING) {
            return Effect().none().thenRun(s -> c.replyTo().tell(new JobReply.Accepted(s)));
        }
        cancelReplyTo = c.replyTo();
        return Effect().persist(new JobCancelRequested(now())).thenRun(s -> {
            if (vm != null) {
                vm.tell(VmActor.Stop.INSTANCE); // the disks stop and flush; VmEnded follows
            } else {
                context.getSelf().tell(VmEnded.INSTANCE);
            }
        });
    }

    private Effect<Event, JobState> onSlotGranted(JobState state, SlotGranted c) {
        if (state.status() == JobStatus.QUEUED) {
            return Effect().persist(new JobStarted(now())).thenRun(this::startDisks);
        }
        if (state.status() == JobStatus.RUNNING && vm == null) {
            long at = now();
            java.util.List<Event> resumed = state.disks().values().stream()
                    .filter(d -> d.status() == DiskStatus.COPYING && d.bytesDone() > 0)
                    .map(d -> (Event) new DiskResumed(d.id(), d.checkpoint(), d.bytesDone(), at)).toList();
            return Effect().persist(resumed).thenRun(this::startDisks);
        }
        return Effect().none().thenRun(s -> JobSlots.release(context.getSystem(), jobId));
    }

    private Effect<Event, JobState> onDiskReport(JobState state, DiskReport c) {
        DiskState disk = state.disk(c.disk());
        if (disk == null || state.status().isFinal()) {
            return Effect().none();
        }
        long at = now();
        Report r = c.report();
        if (r instanceof Planned p) {
            if (disk.plannedBytes() == p.plannedBytes() && disk.capacity() == p.capacity() && disk.mode() == p.mode()) {
                return Effect().none(); // re-planned after a retry: nothing new
            }
            return Effect().persist(new DiskPlanned(c.disk(), p.capacity(), p.plannedBytes(), p.mode(), p.reason(), at));
        }
        if (r instanceof Progressed p) {
            return Effect().persist(progressed(disk, p.progress(), at));
        }
        if (r instanceof Retrying t) {
            return Effect().persist(new DiskRetried(c.disk(), t.attempt(), t.reason(), at));
        }
        if (r instanceof Completed done) {
            return Effect().persist(java.util.List.of(progressed(disk, done.progress(), at),
                    new DiskCompleted(c.disk(), done.changeToken(), at)));
        }
        Failed f = (Failed) r;
        return Effect().persist(new DiskFailed(c.disk(), f.reason(), at));
    }

    private static DiskProgressed progressed(DiskState disk, CopyProgress p, long at) {
        long total = disk.requestRetries() + Math.max(0, p.requestRetries() - disk.attemptRequestRetries());
        return new DiskProgressed(disk.id(), p.resumePoint(), p.bytesDone(), p.bytesWritten(), p.bytesZeroed(),
                p.bytesSkipped(), p.zeroSentBytes(), p.throughputBps(), p.etaSeconds(), total, p.requestRetries(), at);
    }

    private Effect<Event, JobState> onVmEnded(JobState state, VmEnded c) {
        vm = null;
        JobSlots.release(context.getSystem(), jobId);
        long at = now();
        if (state.status() == JobStatus.CANCELLING) {
            return Effect().persist(new JobCancelled(at)).thenRun(s -> {
                if (cancelReplyTo != null) {
                    cancelReplyTo.tell(new JobReply.Accepted(s));
                    cancelReplyTo = null;
                }
            });
        }
        if (state.status() != JobStatus.RUNNING) {
            return Effect().none();
        }
        long failed = state.disks().values().stream().filter(d -> d.status() == DiskStatus.FAILED).count();
        if (failed == 0 && state.allDisksEnded()) {
            return Effect().persist(new JobCompleted(at));
        }
        String reason = state.disks().values().stream().filter(d -> d.status() == DiskStatus.FAILED)
                .map(d -> d.id() + ": " + d.error()).reduce((a, b) -> a + "; " + b)
                .orElse("the disks stopped before completing");
        return Effect().persist(new JobFailed(reason, at));
    }

    private Effect<Event, JobState> onIdle(JobState state, Idle c) {
        boolean over = state.status().isFinal() || state.status() == JobStatus.NEW;
        if (over && vm == null && shard != null) {
            shard.tell(new ClusterSharding.Passivate<>(context.getSelf()));
        }
        return Effect().none();
    }

    // ---- events ----

    @Override
    public EventHandler<JobState, Event> eventHandler() {
        return newEventHandlerBuilder().forAnyState().onAnyEvent(JobStates::apply);
    }

    // ---- side effects ----

    private void onRecovered(JobState state) {
        switch (state.status()) {
            case QUEUED, RUNNING -> requestSlot(state);
            case CANCELLING -> context.getSelf().tell(VmEnded.INSTANCE); // no disk survives a crash
            default -> { }
        }
    }

    private void requestSlot(JobState state) {
        JobSlots.request(context.getSystem(), jobId, JobSlots.targets(state.spec()), context.getSelf());
    }

    private void startDisks(JobState state) {
        if (vm != null || state.allDisksEnded()) {
            if (vm == null) {
                context.getSelf().tell(VmEnded.INSTANCE);
            }
            return;
        }
        vm = context.spawn(VmActor.create(state, context.getSelf(), runtime), "vm");
    }

    private static long now() {
        return System.currentTimeMillis();
    }

    /** Idle timeout after which a finished job's entity may stop (the read side keeps answering). */
    static final Duration PASSIVATE_AFTER = Duration.ofMinutes(2);
}
