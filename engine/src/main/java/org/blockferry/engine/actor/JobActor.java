package org.blockferry.engine.actor;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.PreRestart;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.cluster.sharding.typed.ClusterShardingSettings;
import org.apache.pekko.cluster.sharding.typed.ShardingEnvelope;
import org.apache.pekko.cluster.sharding.typed.ShardingMessageExtractor;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityTypeKey;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.RecoveryCompleted;
import org.apache.pekko.persistence.typed.javadsl.CommandHandler;
import org.apache.pekko.persistence.typed.javadsl.CommandHandlerBuilder;
import org.apache.pekko.persistence.typed.javadsl.Effect;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehavior;
import org.apache.pekko.persistence.typed.javadsl.RetentionCriteria;
import org.apache.pekko.persistence.typed.javadsl.SignalHandler;
import org.blockferry.engine.CborSerializable;
import org.blockferry.engine.cluster.JobOwnership;
import org.blockferry.engine.cluster.LoadPlacement;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.job.DiskState;
import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.job.JobState.DiskIdentities;
import org.blockferry.engine.job.JobState.DiskStatus;
import org.blockferry.engine.job.JobState.JobStatus;
import org.blockferry.engine.job.JobState;
import org.blockferry.engine.plan.CopyMode;
import org.blockferry.engine.plan.ResumePoint;

/**
 * One replication job, event-sourced and sharded by job id. It owns the job's truth — spec,
 * status, each disk's planned bytes, progress and checkpoint — folded by {@link JobEventHandler}.
 * A submitted job claims the leases of the locations it reads and writes, then a running slot of
 * its node ({@link JobClaims}), then runs its disks under a {@link VmActor} child. After a
 * crash it recovers from its events, takes its leases again and resumes the disks from their
 * checkpoints. Whatever its end, it gives its leases and slot back.
 */
public final class JobActor extends EventSourcedBehavior<JobActor.Command, JobActor.Event, JobState> {

    public static final EntityTypeKey<Command> TYPE_KEY = EntityTypeKey.create(Command.class, "ReplicationJob");

    private static PersistenceId persistenceId(String jobId) {
        return PersistenceId.of(TYPE_KEY.name(), jobId);
    }

    /** The persistence id of a job's events in the journal. */
    public static String persistenceIdOf(String jobId) {
        return persistenceId(jobId).id();
    }
    /** The tag of every job event: the read side's projection follows it. */
    public static final String TAG = "replication-job";

    // ---- protocol ----

    public sealed interface Command extends CborSerializable {
    }

    /**
     * Submits the job ({@link JobSpec#validated()}), with the identities of its disks' sources and
     * targets; a repeated submission with the same spec answers with the same job.
     */
    public record Submit(JobSpec spec, Map<String, DiskIdentities> identities, ActorRef<JobReply> replyTo)
            implements Command {
    }

    /** Asks for the current state (for progress displays). */
    public record Get(ActorRef<JobState> replyTo) implements Command {
    }

    /** Stops the disks, flushes what was written, and ends the job as cancelled. */
    public record Cancel(ActorRef<JobReply> replyTo) implements Command {
    }

    /**
     * Wakes the entity: an unfinished job resumes by itself. Sent after a node start, after a
     * member left the cluster, and by a job that moves or starts again ({@link HandOff}).
     */
    public enum Resume implements Command {
        INSTANCE
    }

    /**
     * From the shard: stop, because the job passivates, moves to another node (it only waited
     * for a slot here) or its node leaves. An unfinished job that did not ask to stop sends itself
     * a {@link Resume} first: the shard region holds it until the shard has its new home, where
     * the job starts again (job shards are not remembered: see {@link #init}).
     */
    public enum HandOff implements Command {
        INSTANCE
    }

    /** From a location ({@link TargetActor}): this job holds its lease now. */
    public record LeaseGranted(String location) implements Command {
    }

    /** From a location: this job waits for its lease, held by {@code holder}. */
    public record LeaseQueued(String location, String holder) implements Command {
    }

    /** From this node's {@link RunSlots}: the job may run now. */
    public enum SlotGranted implements Command {
        INSTANCE
    }

    /** From the VmActor: what a disk reported. */
    record DiskReport(String disk, DiskActor.Report report) implements Command {
    }

    /** From the VmActor: every disk it ran has ended (or was stopped on cancel). */
    enum VmEnded implements Command {
        INSTANCE
    }

    /** The cutover reached a step (from its blocking thread). */
    private record CutoverStepReached(String step, String conversion, String vmId) implements Command {
    }

    /** The cutover ended: its result, or why it failed. */
    private record CutoverEnded(CloudCutover.Result result, String failure) implements Command {
    }

    /** The volumes a failed first sync created are gone (or kept, see the log): the leases can go back. */
    private record VolumesCleanedUp(JobState state) implements Command {
    }

    /**
     * No message for {@code blockferry.jobs.passivate-after}: a job that has ended may leave memory
     * (the read side keeps answering for it), and its shard is retired after it ({@link LoadPlacement}).
     */
    enum Idle implements Command {
        INSTANCE
    }

    /** This process owns the job now (local only: never leaves the node). */
    private record Owned(JobOwnership.Hold hold, long journalEnd) implements Command {
    }

    /** Another process owns the job ({@code owner}), or the database did not answer ({@code error}). */
    private record NotOwned(String owner, String error) implements Command {
    }

    /** Time to try to own the job again, or to check that the ownership still holds. */
    private enum OwnershipTick implements Command {
        INSTANCE
    }

    /** A waiting job claims again the lease that has not answered (see {@link JobClaims#again}). */
    private enum ClaimTick implements Command {
        INSTANCE
    }

    // ---- events: one per fact ----

    public sealed interface Event extends CborSerializable {
        /** When it happened (epoch milliseconds). */
        long at();
    }

    /** {@code identities}: per disk, what its source and target are (null in events of older versions). */
    public record JobSubmitted(JobSpec spec, Map<String, DiskIdentities> identities, long at) implements Event {
    }

    /** The job waits: a location it needs is held by another job, or no slot is free. */
    public record JobWaiting(String reason, long at) implements Event {
    }

    public record JobStarted(long at) implements Event {
    }

    /** The job was taken up by {@code node} ("host:port" of the cluster member): it runs there from now on. */
    public record JobRunsOn(String node, long at) implements Event {
    }

    public record DiskPlanned(String disk, long capacity, long plannedBytes, CopyMode mode, String reason, long at)
            implements Event {
    }

    /** {@code requestRetries} is the disk's total over all attempts; {@code attemptRequestRetries} this attempt's. */
    public record DiskProgressed(String disk, ResumePoint checkpoint, long bytesDone, long bytesWritten,
                                 long bytesZeroed, long bytesSkipped, long bytesZeroSent, double throughputBps,
                                 long etaSeconds, long requestRetries, long attemptRequestRetries, long at)
            implements Event {
    }

    public record DiskRetried(String disk, int attempt, String reason, long at) implements Event {
    }

    /** A step of provisioning the disk's target (a CloudStack volume); {@code volumeId} once it is known. */
    public record DiskProvisioning(String disk, String step, String volumeId, long at) implements Event {
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

    /** The cutover into CloudStack reached {@code step}; the conversion's summary and the VM's id once known. */
    public record CutoverProgressed(String step, String conversion, String vmId, long at) implements Event {
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
        // One shard per job: the placement puts each job where there is room and moves a waiting
        // one, and retires the shard of a job that has ended and left memory (else the
        // coordinator's state, copied to every node on each change, would grow with every job
        // ever run). Shards are not remembered: the coordinator would write every new shard to the
        // journal before it allocates the next one, one submission at a time (bench/README.md).
        // A job is woken instead: after a node start and after a member was removed (the node's
        // JobWaker, from the read side and the journal), and by itself when it moves (HandOff).
        ClusterSharding.get(system).init(Entity.of(TYPE_KEY, ctx -> create(ctx.getEntityId(), runtime, ctx.getShard()))
                .withSettings(ClusterShardingSettings.create(system).withNoPassivationStrategy()
                        .withRememberEntities(false))
                .withStopMessage(HandOff.INSTANCE)
                .withMessageExtractor(new ShardPerJob())
                .withAllocationStrategy(new LoadPlacement(TYPE_KEY, runtime.jobs().passivateAfter())));
    }

    /** A job is its own shard. */
    private static final class ShardPerJob extends ShardingMessageExtractor<ShardingEnvelope<Command>, Command> {
        @Override
        public String entityId(ShardingEnvelope<Command> envelope) {
            return envelope.entityId();
        }

        @Override
        public String shardId(String entityId) {
            return entityId;
        }

        @Override
        public Command unwrapMessage(ShardingEnvelope<Command> envelope) {
            return envelope.message();
        }
    }

    public static Behavior<Command> create(String jobId, JobRuntime runtime) {
        return create(jobId, runtime, null);
    }

    private static Behavior<Command> create(String jobId, JobRuntime runtime,
                                            ActorRef<ClusterSharding.ShardCommand> shard) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
            ctx.setReceiveTimeout(runtime.jobs().passivateAfter(), Idle.INSTANCE);
            return new JobActor(ctx, timers, jobId, runtime, shard);
        }));
    }

    private final ActorContext<Command> context;
    private final TimerScheduler<Command> timers;
    private final String jobId;
    private final JobRuntime runtime;
    private final ActorRef<ClusterSharding.ShardCommand> shard;
    private final JobClaims claims;
    private ActorRef<VmActor.Command> vm;
    private ActorRef<JobReply> cancelReplyTo;
    /** This process's ownership of the job, while it has one. */
    private JobOwnership.Hold hold;
    private boolean acquiring;
    /** A cutover runs (on a blocking thread): the job cannot be cancelled until it ends. */
    private boolean cuttingOver;
    /** Who owned the job at the last refused attempt (logged when it changes). */
    private String otherOwner;
    /** This incarnation asked its shard to stop it (passivation, or to start again): it does nothing more. */
    private boolean stopping;
    /** This incarnation gave the ended job's leases and slot back. */
    private boolean released;

    private JobActor(ActorContext<Command> context, TimerScheduler<Command> timers, String jobId, JobRuntime runtime,
                     ActorRef<ClusterSharding.ShardCommand> shard) {
        super(persistenceId(jobId),
                SupervisorStrategy.restartWithBackoff(Duration.ofMillis(200), Duration.ofSeconds(30), 0.2));
        this.context = context;
        this.timers = timers;
        this.jobId = jobId;
        this.runtime = runtime;
        this.shard = shard;
        this.claims = new JobClaims(jobId, runtime.peers(), context.getSelf());
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
        return newSignalHandlerBuilder().onSignal(RecoveryCompleted.instance(), this::onRecovered)
                .onSignal(PostStop.instance(), s -> giveBack())
                // a persist failure (another process wrote the journal meanwhile: the key fences
                // it) restarts the job: it recovers what the journal holds and owns it again
                .onSignal(PreRestart.instance(), s -> giveBack()).build();
    }

    // ---- commands, per status ----

    @Override
    public CommandHandler<Command, Event, JobState> commandHandler() {
        CommandHandlerBuilder<Command, Event, JobState> b = newCommandHandlerBuilder();
        // Ownership comes first: without it the job persists nothing and runs nothing.
        b.forAnyState()
                .onCommand(HandOff.class, this::onHandOff)
                .onCommand(Owned.class, this::onOwned)
                .onCommand(NotOwned.class, this::onNotOwned)
                .onCommand(OwnershipTick.class, this::onOwnershipTick)
                .onCommand(ClaimTick.class, this::onClaimTick);
        b.forState(s -> !s.status().isFinal() && s.status() != JobStatus.NEW && !owned())
                .onCommand(Cancel.class, (s, c) -> Effect().stash())
                .onCommand(Get.class, (s, c) -> Effect().reply(c.replyTo(), s))
                .onCommand(Submit.class, this::onSubmitAgain)
                .onCommand(VmEnded.class, (s, c) -> startAgain()) // fenced: the job's new owner goes on
                .onAnyCommand((s, c) -> Effect().none()); // claims start again once owned
        b.forState(s -> s.status() == JobStatus.NEW)
                .onCommand(Submit.class, this::onFirstSubmit)
                .onCommand(Cancel.class, (s, c) -> reject(c.replyTo(), JobReply.Reason.UNKNOWN_JOB, "no job " + jobId))
                .onCommand(Idle.class, this::onIdle);
        b.forState(s -> s.status() == JobStatus.QUEUED)
                .onCommand(LeaseGranted.class, this::onLeaseGranted)
                .onCommand(LeaseQueued.class, this::onLeaseQueued)
                .onCommand(SlotGranted.class, this::onSlotWhileQueued)
                .onCommand(Cancel.class, this::onCancel);
        b.forState(s -> s.status() == JobStatus.RUNNING)
                .onCommand(LeaseGranted.class, this::onLeaseGranted)
                .onCommand(LeaseQueued.class, this::onLeaseQueued)
                .onCommand(SlotGranted.class, this::onSlotWhileRunning)
                .onCommand(DiskReport.class, this::onDiskReport)
                .onCommand(VmEnded.class, this::onVmEndedWhileRunning)
                .onCommand(CutoverStepReached.class, this::onCutoverStep)
                .onCommand(CutoverEnded.class, this::onCutoverEnded)
                .onCommand(Cancel.class, this::onCancel);
        b.forState(s -> s.status() == JobStatus.CANCELLING)
                .onCommand(DiskReport.class, this::onDiskReport)
                .onCommand(VmEnded.class, this::onVmEndedWhileCancelling)
                .onCommand(Cancel.class, (s, c) -> Effect().reply(c.replyTo(), new JobReply.Accepted(s)));
        b.forState(s -> s.status().isFinal())
                .onCommand(Cancel.class, (s, c) -> reject(c.replyTo(), JobReply.Reason.ALREADY_FINISHED,
                        "job " + jobId + " has already ended (" + s.status().json() + ")"))
                .onCommand(Resume.class, this::onResumeEnded)
                .onCommand(Idle.class, this::onIdle);
        b.forAnyState()
                .onCommand(VolumesCleanedUp.class, (s, c) -> Effect().none().thenRun(x -> releaseAll(c.state())))
                .onCommand(Submit.class, this::onSubmitAgain)
                .onCommand(Get.class, (s, c) -> Effect().reply(c.replyTo(), s))
                .onAnyCommand((s, c) -> Effect().none()); // late reports, leases of an ended job, wake-ups
        return b.build();
    }

    private Effect<Event, JobState> onFirstSubmit(JobState state, Submit c) {
        try {
            if (c.spec().source().kind().equals("vmware")) {
                runtime.vmware().checkVcenter(c.spec().source()); // one this node knows, by the name the job gives
            }
            if (c.spec().cloudTarget()) {
                runtime.clouds().named("target.cloud", c.spec().target().cloud()); // likewise
            }
        } catch (InvalidInputException e) {
            return Effect().reply(c.replyTo(), new JobReply.Rejected(JobReply.Reason.INVALID, e.getMessage(),
                    e.field()));
        }
        return Effect().persist(new JobSubmitted(c.spec(), c.identities(), now()))
                .thenRun(s -> c.replyTo().tell(new JobReply.Accepted(s)))
                .thenRun(s -> own());
    }

    private Effect<Event, JobState> onSubmitAgain(JobState state, Submit c) {
        if (state.spec().equals(c.spec())) {
            return Effect().reply(c.replyTo(), new JobReply.Accepted(state));
        }
        return reject(c.replyTo(), JobReply.Reason.CONFLICT, "job " + jobId + " already exists with a different spec");
    }

    private Effect<Event, JobState> onLeaseGranted(JobState state, LeaseGranted c) {
        claims.granted(c.location());
        return Effect().none();
    }

    private Effect<Event, JobState> onLeaseQueued(JobState state, LeaseQueued c) {
        claims.remind(c.holder());
        String reason = claims.queued(c.location(), c.holder());
        if (reason.equals(state.waitingFor())) {
            return Effect().none();
        }
        return Effect().persist(new JobWaiting(reason, now()));
    }

    private Effect<Event, JobState> onSlotWhileQueued(JobState state, SlotGranted c) {
        if (!claims.allHeld()) {
            return Effect().none(); // a slot granted before a crash: wait for the leases first
        }
        return Effect().persist(new JobStarted(now())).thenRun(this::startDisks);
    }

    /**
     * After a restart of the node, or a move to this one: the disks that had begun resume from
     * their checkpoints, and a moved job names this node (see onOwned).
     */
    private Effect<Event, JobState> onSlotWhileRunning(JobState state, SlotGranted c) {
        if (vm != null || !claims.allHeld()) {
            return Effect().none();
        }
        long at = now();
        List<Event> events = new ArrayList<>();
        if (!runtime.node().equals(state.node())) {
            events.add(new JobRunsOn(runtime.node(), at)); // moved here: it runs on this node from now on
        }
        state.disks().values().stream()
                .filter(d -> d.status() == DiskStatus.COPYING && d.bytesDone() > 0)
                .forEach(d -> events.add(new DiskResumed(d.id(), d.checkpoint(), d.bytesDone(), at)));
        return Effect().persist(events).thenRun(this::startDisks);
    }

    private Effect<Event, JobState> onDiskReport(JobState state, DiskReport c) {
        DiskState disk = state.disk(c.disk());
        if (disk == null) {
            return Effect().none();
        }
        List<Event> events = DiskReports.events(disk, c.report(), now());
        return events.isEmpty() ? Effect().none() : Effect().persist(events);
    }

    private Effect<Event, JobState> onCancel(JobState state, Cancel c) {
        if (cuttingOver) {
            return reject(c.replyTo(), JobReply.Reason.CONFLICT, "job " + jobId + " is cutting over into CloudStack"
                    + " (" + (state.cutover() == null ? "starting" : state.cutover().step()) + "); it ends by itself");
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

    private Effect<Event, JobState> onVmEndedWhileRunning(JobState state, VmEnded c) {
        vm = null;
        long at = now();
        String failure = DiskReports.failureOf(state);
        if (failure == null && state.spec().cutover()) {
            if (cuttingOver) {
                return Effect().none();
            }
            cuttingOver = true;
            return Effect().persist(new CutoverProgressed("cutover started", null, null, at))
                    .thenRun(this::startCutover);
        }
        return Effect().persist(failure == null ? new JobCompleted(at) : new JobFailed(failure, at))
                .thenRun(this::ended);
    }

    private void startCutover(JobState state) {
        ActorRef<Command> self = context.getSelf();
        context.pipeToSelf(CloudCutover.run(state, runtime, context.getSystem().scheduler(),
                        (step, conversion, vmId) -> self.tell(new CutoverStepReached(step, conversion, vmId)),
                        runtime.conversion()),
                (result, failure) -> new CutoverEnded(result, failure == null ? null
                        : FailureBudget.reasonOf(FailureBudget.unwrap(failure))));
    }

    private Effect<Event, JobState> onCutoverStep(JobState state, CutoverStepReached c) {
        return Effect().persist(new CutoverProgressed(c.step(), c.conversion(), c.vmId(), now()));
    }

    /** The job completes with its cutover, or fails with its reason (the volumes stay where they are). */
    private Effect<Event, JobState> onCutoverEnded(JobState state, CutoverEnded c) {
        cuttingOver = false;
        long at = now();
        if (c.failure() != null) {
            return Effect().persist(List.of(new CutoverProgressed("cutover failed", null, null, at),
                    new JobFailed("cutover: " + c.failure(), at))).thenRun(this::ended);
        }
        return Effect().persist(List.of(new CutoverProgressed("cutover completed", c.result().conversion(),
                c.result().vmId(), at), new JobCompleted(at))).thenRun(this::ended);
    }

    private Effect<Event, JobState> onVmEndedWhileCancelling(JobState state, VmEnded c) {
        vm = null;
        return Effect().persist(new JobCancelled(now())).thenRun(s -> {
            ended(s);
            if (cancelReplyTo != null) {
                cancelReplyTo.tell(new JobReply.Accepted(s));
                cancelReplyTo = null;
            }
        });
    }

    private Effect<Event, JobState> onIdle(JobState state, Idle c) {
        if (vm == null && shard != null && !stopping) {
            stopping = true;
            shard.tell(new ClusterSharding.Passivate<>(context.getSelf()));
        }
        return Effect().none();
    }

    private Effect<Event, JobState> onHandOff(JobState state, HandOff c) {
        if (!stopping && !state.status().isFinal() && state.status() != JobStatus.NEW) {
            context.getLog().info("event=job-handed-off job={} node={} status={}", jobId, runtime.node(),
                    state.status().json());
            if (nodeStaysUp()) {
                wake(); // moved: the region holds this until the shard's new home has it
            } // else this node leaves: the others wake its jobs once it is removed (JobWaker)
        }
        return Effect().stop();
    }

    /** This node is an Up member and not shutting down (its region would hold a wake-up until it stops). */
    private boolean nodeStaysUp() {
        var system = context.getSystem();
        return org.apache.pekko.actor.CoordinatedShutdown.get(system).getShutdownReason().isEmpty()
                && org.apache.pekko.cluster.typed.Cluster.get(system).selfMember().status()
                == org.apache.pekko.cluster.MemberStatus.up();
    }

    /**
     * Ends this incarnation and starts a new one, which recovers the journal anew (as a restart
     * would): the shard stops the entity and, holding the wake-up sent meanwhile, starts it again.
     * Outside sharding (tests) it only stops.
     */
    private Effect<Event, JobState> startAgain() {
        if (shard == null) {
            return Effect().stop();
        }
        if (!stopping) {
            stopping = true;
            timers.cancelAll();
            if (vm != null) {
                context.stop(vm); // as a stop of this actor would: not one more write from this incarnation
                vm = null;
            }
            shard.tell(new ClusterSharding.Passivate<>(context.getSelf()));
            wake(); // after the Passivate: the shard buffers it for the next incarnation
        }
        return Effect().none();
    }

    private void wake() {
        ClusterSharding.get(context.getSystem()).entityRefFor(TYPE_KEY, jobId).tell(Resume.INSTANCE);
    }

    private Effect<Event, JobState> reject(ActorRef<JobReply> replyTo, JobReply.Reason reason, String message) {
        return Effect().reply(replyTo, new JobReply.Rejected(reason, message));
    }

    // ---- events ----

    @Override
    public EventHandler<JobState, Event> eventHandler() {
        return JobEventHandler.handler();
    }

    // ---- side effects ----

    private void onRecovered(JobState state) {
        vm = null; // a restart (after a persist failure) stopped the children
        switch (state.status()) {
            case QUEUED, RUNNING, CANCELLING -> own();
            case COMPLETED, FAILED, CANCELLED -> ended(state); // the node may have died before
            default -> { }
        }
    }

    // ---- ownership: one process runs the job ----

    private boolean owned() {
        return hold != null && hold.valid();
    }

    /** Tries to own the job (once; {@link OwnershipTick} tries again while another process owns it). */
    private void own() {
        if (hold != null || acquiring || stopping) {
            return;
        }
        acquiring = true;
        context.pipeToSelf(runtime.ownership().tryAcquire(jobId), (attempt, failure) -> failure != null
                ? new NotOwned(null, FailureBudget.reasonOf(failure))
                : attempt.owned() ? new Owned(attempt.hold(), attempt.journalEnd())
                : new NotOwned(attempt.otherOwner(), null));
    }

    private Effect<Event, JobState> onOwned(JobState state, Owned c) {
        acquiring = false;
        if (hold != null || stopping || state.status().isFinal()) {
            c.hold().giveBack();
            return Effect().none();
        }
        long recovered = lastSequenceNumber(context);
        if (c.journalEnd() > recovered) {
            // Another process wrote the job's events after this actor recovered them (it ran the
            // job while this one waited): recover again before one more event or write.
            context.getLog().info("event=job-recovers-again job={} node={} recovered_to={} journal_end={}", jobId,
                    runtime.node(), recovered, c.journalEnd());
            c.hold().giveBack();
            return startAgain();
        }
        hold = c.hold();
        otherOwner = null;
        timers.startTimerWithFixedDelay(OwnershipTick.INSTANCE, OWNERSHIP_CHECK);
        context.getLog().info("event=job-owned job={} node={}", jobId, runtime.node());
        if (state.status() == JobStatus.CANCELLING) {
            context.getSelf().tell(VmEnded.INSTANCE); // no disk survives a move or a crash
            return Effect().unstashAll();
        }
        if (runtime.node().equals(state.node()) || state.status() == JobStatus.RUNNING) {
            // A running job moved here names this node once it holds a slot here
            // (onSlotWhileRunning): until then it counts for the node it ran on, so that no node
            // shows more running jobs than its slots while a moved job waits for one.
            return Effect().none().thenRun(this::startClaims).thenUnstashAll();
        }
        return Effect().persist(new JobRunsOn(runtime.node(), now())).thenRun(this::startClaims).thenUnstashAll();
    }

    /** Claims the leases, then a slot; a lease that does not answer is claimed again on a timer. */
    private void startClaims(JobState state) {
        claims.start(state);
        timers.startTimerWithFixedDelay(ClaimTick.INSTANCE, runtime.jobs().claimAgainAfter());
    }

    private Effect<Event, JobState> onClaimTick(JobState state, ClaimTick c) {
        boolean waiting = owned() && !stopping && vm == null
                && (state.status() == JobStatus.QUEUED || state.status() == JobStatus.RUNNING);
        if (!waiting || !claims.again()) {
            // every lease held (the slot is this node's: no answer of it is lost on the way), or
            // the job no longer waits
            timers.cancel(ClaimTick.INSTANCE);
        }
        return Effect().none();
    }

    /**
     * An ended job woken (by a job that waits for a lease this one still holds, as its location
     * says): its release was lost, so it gives its leases back again. Before the first release
     * (volumes still being cleaned up) it waits for that to end.
     */
    private Effect<Event, JobState> onResumeEnded(JobState state, Resume c) {
        if (released) {
            claims.releaseAll(state);
        }
        return Effect().none();
    }

    private Effect<Event, JobState> onNotOwned(JobState state, NotOwned c) {
        acquiring = false;
        String who = c.owner() != null ? "owned by " + c.owner() : "database: " + c.error();
        if (!who.equals(otherOwner)) {
            otherOwner = who;
            context.getLog().info("event=job-waits-for-owner job={} {}", jobId, who);
        }
        if (!state.status().isFinal()) {
            timers.startSingleTimer(OwnershipTick.INSTANCE, OWN_AGAIN);
        }
        return Effect().none();
    }

    private Effect<Event, JobState> onOwnershipTick(JobState state, OwnershipTick c) {
        if (hold == null) {
            if (!state.status().isFinal() && state.status() != JobStatus.NEW) {
                own();
            }
            return Effect().none();
        }
        if (!hold.valid()) {
            // Paused, cut off from the database, or taken over: not one more write or event from here.
            context.getLog().warn("event=job-ownership-lost job={} node={}", jobId, runtime.node());
            hold = null;
            return startAgain();
        }
        return Effect().none();
    }

    /**
     * The job ended: its locations' leases and its slot go back, then the job itself. A failed
     * first sync to a CloudStack target deletes the volumes it created first, under its leases.
     */
    private void ended(JobState state) {
        if (VolumeCleanup.needed(state)) {
            context.pipeToSelf(VolumeCleanup.run(state, runtime, context.getSystem().scheduler()),
                    (v, failure) -> new VolumesCleanedUp(state));
            return;
        }
        releaseAll(state);
    }

    private void releaseAll(JobState state) {
        timers.cancel(ClaimTick.INSTANCE);
        claims.releaseAll(state);
        released = true;
        giveBack();
    }

    private void giveBack() {
        timers.cancel(OwnershipTick.INSTANCE);
        if (hold != null) {
            hold.giveBack();
            hold = null;
        }
    }

    private void startDisks(JobState state) {
        if (vm != null) {
            return;
        }
        if (state.allDisksEnded()) {
            context.getSelf().tell(VmEnded.INSTANCE);
            return;
        }
        vm = context.spawn(runtime.peers().disks(state, context.getSelf(), runtime, hold), "vm");
    }

    /** How often an owner checks that its ownership still holds (the fence checks before every write too). */
    private static final Duration OWNERSHIP_CHECK = Duration.ofMillis(500);
    /** How long a job owned by another process waits before it tries again. */
    private static final Duration OWN_AGAIN = Duration.ofSeconds(1);

    private static long now() {
        return System.currentTimeMillis();
    }
}
