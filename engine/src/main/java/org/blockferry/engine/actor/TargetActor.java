package org.blockferry.engine.actor;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PreRestart;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.Terminated;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.sharding.typed.HashCodeMessageExtractor;
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
import org.blockferry.engine.actor.TargetState.Claim;
import org.blockferry.engine.actor.TargetState.Role;

/**
 * One disk location that jobs read (as a source) or write (as a target), event-sourced and
 * sharded by its identity ({@code DiskLocation#identity()}: two spellings of one target are one
 * entity). It owns:
 * <ul>
 *   <li>the lease: one writer, or any number of readers, and the jobs waiting for it in FIFO
 *       order. A job takes the leases of all its locations, in the order of their identities,
 *       before its disks start, so two jobs never write one target and none reads a disk while
 *       another writes it; it gives them back when it ends, whatever the end;</li>
 *   <li>the lineage: the last change token completed into it per source. Only the lease's
 *       writer records one, and a writer from another source makes the others worthless.</li>
 * </ul>
 * A job hears of a lease granted later through {@link JobNotifier} (it may run on another node).
 */
public final class TargetActor extends EventSourcedBehavior<TargetActor.Command, TargetActor.Event, TargetState> {

    public static final EntityTypeKey<Command> TYPE_KEY = EntityTypeKey.create(Command.class, "ReplicationTarget");

    // ---- protocol ----

    public sealed interface Command extends CborSerializable {
    }

    /** Asks, without claiming anything, which other job uses the location in the role opposite to {@code role}. */
    public record Peek(String jobId, Role role, ActorRef<Usage> replyTo) implements Command {
    }

    /** Claims the lease; the answer goes to the job through the {@link JobNotifier}: granted or queued. */
    public record Acquire(String jobId, Role role, String source) implements Command {
    }

    /** The job ended: it gives up its lease or its place in the line. */
    public record Release(String jobId) implements Command {
    }

    /** The last token completed into this location from {@code source}, and whether {@code jobId} writes it. */
    public record GetLineage(String jobId, String source, ActorRef<Lineage> replyTo) implements Command {
    }

    /** The writer's copy from {@code source} completed with {@code token} (null: its source keeps none). */
    public record RecordToken(String jobId, String source, String token, ActorRef<Lineage> replyTo)
            implements Command {
    }

    /**
     * The writer created, attached, detached or deleted the target's CloudStack volume; the
     * reply's {@code writer} says whether it was recorded (a job without the lease records nothing).
     */
    public record RecordVolume(String jobId, TargetState.VolumeChange change, ActorRef<Lineage> replyTo)
            implements Command {
    }

    /** The whole state, for inspection. */
    public record Get(ActorRef<TargetState> replyTo) implements Command {
    }

    // ---- replies ----

    /** {@code otherJob} holds or waits for the lease as {@code otherRole}; both null when nobody does. */
    public record Usage(String identity, String otherJob, Role otherRole) implements CborSerializable {
    }

    /**
     * {@code writer}: whether the asking job holds the write lease; {@code token}: the lineage's
     * token for its source; {@code volume}: a CloudStack target's volume, null when it has none.
     */
    public record Lineage(String identity, boolean writer, Optional<String> token, TargetState.Volume volume)
            implements CborSerializable {
        public Lineage(String identity, boolean writer, Optional<String> token) {
            this(identity, writer, token, null);
        }
    }

    // ---- events ----

    public sealed interface Event extends CborSerializable {
    }

    public record LeaseQueued(Claim claim) implements Event {
    }

    public record LeaseGranted(Claim claim) implements Event {
    }

    public record LeaseReleased(String jobId) implements Event {
    }

    public record TokenRecorded(String jobId, String source, String token) implements Event {
    }

    public record VolumeChanged(String jobId, TargetState.VolumeChange change) implements Event {
    }

    // ---- wiring ----

    /** Registers the entity with cluster sharding on this node. */
    public static void init(ActorSystem<?> system, JobNotifier jobs) {
        ClusterSharding.get(system).init(Entity.of(TYPE_KEY, ctx -> entity(ctx.getEntityId(), jobs))
                .withMessageExtractor(new HashCodeMessageExtractor<>(SHARDS)));
    }

    /**
     * The sharded entity: the event-sourced location as its child, and in front of it an actor
     * that answers {@link Peek} from the state the child applied last and forwards every other
     * command. An event-sourced actor holds back every command while it writes, and a location
     * that many jobs claim writes often: a submission's peek (which claims nothing) would wait
     * behind all those writes (half a second and more with 50 submissions in flight, all to one
     * target). A peek may see a claim whose event is still being written; the claims themselves
     * go through the child, in order.
     */
    public static Behavior<Command> entity(String entityId, JobNotifier jobs) {
        return Behaviors.setup(ctx -> {
            AtomicReference<TargetState> applied = new AtomicReference<>();
            ActorRef<Command> store = ctx.spawn(Behaviors.<Command>setup(c -> new TargetActor(entityId, jobs,
                    SNAPSHOT_EVERY, applied)), "store");
            ctx.watch(store);
            return Behaviors.receive(Command.class)
                    .onMessage(Peek.class, p -> {
                        TargetState state = applied.get();
                        if (state == null) {
                            store.tell(p); // still recovering: the child answers once it has
                        } else {
                            p.replyTo().tell(usage(entityId, state, p));
                        }
                        return Behaviors.same();
                    })
                    .onMessage(Command.class, c -> {
                        store.tell(c);
                        return Behaviors.same();
                    })
                    .onSignal(Terminated.class, t -> Behaviors.stopped())
                    .build();
        });
    }

    public static Behavior<Command> create(String entityId, JobNotifier jobs) {
        return create(entityId, jobs, SNAPSHOT_EVERY);
    }

    /** The event-sourced location alone (tests drive it with the event-sourced test kit). */
    static Behavior<Command> create(String entityId, JobNotifier jobs, int snapshotEvery) {
        return Behaviors.setup(ctx -> new TargetActor(entityId, jobs, snapshotEvery, null));
    }

    /** The entity id of an identity: itself, or its hash when it would not fit a persistence id. */
    public static String entityId(String identity) {
        if (identity.length() <= 200) {
            return identity;
        }
        try {
            byte[] sha = MessageDigest.getInstance("SHA-256").digest(identity.getBytes(StandardCharsets.UTF_8));
            return "sha256:" + HexFormat.of().formatHex(sha);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    /** Events between snapshots: a busy target's history stays short to recover. */
    private static final int SNAPSHOT_EVERY = 100;
    /**
     * Target entities are hashed to this many shards (Pekko's default is 1,000). Every shard's
     * first use is a placement the one coordinator writes to the other nodes before it answers,
     * and a burst of submissions to new targets queued behind those writes (bench/README.md,
     * "Cluster"); ten shards per node for clusters of up to ten nodes is Pekko's advice. Every
     * node of a cluster must use the same number (all run the same version).
     */
    static final int SHARDS = 100;

    private final String entityId;
    private final JobNotifier jobs;
    private final int snapshotEvery;
    /** Where the state goes after each event once recovered, for {@link #entity}'s peeks; null: nowhere. */
    private final AtomicReference<TargetState> applied;
    private boolean recovered;

    private TargetActor(String entityId, JobNotifier jobs, int snapshotEvery, AtomicReference<TargetState> applied) {
        super(PersistenceId.of(TYPE_KEY.name(), entityId),
                SupervisorStrategy.restartWithBackoff(Duration.ofMillis(200), Duration.ofSeconds(10), 0.2));
        this.entityId = entityId;
        this.jobs = jobs;
        this.snapshotEvery = snapshotEvery;
        this.applied = applied;
    }

    @Override
    public TargetState emptyState() {
        return TargetState.EMPTY;
    }

    @Override
    public RetentionCriteria retentionCriteria() {
        return RetentionCriteria.snapshotEvery(snapshotEvery, 2);
    }

    // ---- commands ----

    @Override
    public CommandHandler<Command, Event, TargetState> commandHandler() {
        return newCommandHandlerBuilder().forAnyState()
                .onCommand(Peek.class, this::onPeek)
                .onCommand(Acquire.class, this::onAcquire)
                .onCommand(Release.class, this::onRelease)
                .onCommand(GetLineage.class, this::onGetLineage)
                .onCommand(RecordToken.class, this::onRecordToken)
                .onCommand(RecordVolume.class, this::onRecordVolume)
                .onCommand(Get.class, (state, c) -> Effect().reply(c.replyTo(), state))
                .build();
    }

    private Effect<Event, TargetState> onPeek(TargetState state, Peek c) {
        return Effect().reply(c.replyTo(), usage(entityId, state, c));
    }

    private static Usage usage(String entityId, TargetState state, Peek c) {
        Optional<Claim> other = state.opposite(c.jobId(), c.role());
        return new Usage(entityId, other.map(Claim::jobId).orElse(null), other.map(Claim::role).orElse(null));
    }

    @Override
    public SignalHandler<TargetState> signalHandler() {
        return newSignalHandlerBuilder()
                .onSignal(RecoveryCompleted.instance(), s -> {
                    recovered = true;
                    publish(s);
                })
                .onSignal(PreRestart.instance(), s -> {
                    if (applied != null) {
                        applied.set(null); // the next incarnation recovers first
                    }
                }).build();
    }

    /** The state after an event (applied before its write completes), for the peeks. */
    private TargetState publish(TargetState state) {
        if (applied != null && recovered) {
            applied.set(state);
        }
        return state;
    }

    private Effect<Event, TargetState> onAcquire(TargetState state, Acquire c) {
        Claim claim = new Claim(c.jobId(), c.role(), c.source());
        if (state.holds(c.jobId(), c.role())) {
            return Effect().none().thenRun(s -> jobs.granted(c.jobId(), entityId)); // asked again (recovery)
        }
        if (state.grantable(claim)) {
            return Effect().persist(new LeaseGranted(claim)).thenRun(s -> jobs.granted(c.jobId(), entityId));
        }
        String holder = state.holders().keySet().stream().findFirst().orElse(null);
        if (state.knows(c.jobId())) {
            return Effect().none().thenRun(s -> jobs.queued(c.jobId(), entityId, holder));
        }
        return Effect().persist(new LeaseQueued(claim)).thenRun(s -> jobs.queued(c.jobId(), entityId, holder));
    }

    private Effect<Event, TargetState> onRelease(TargetState state, Release c) {
        if (!state.knows(c.jobId())) {
            return Effect().none();
        }
        TargetState after = state.released(c.jobId());
        List<Claim> next = after.nextToGrant();
        List<Event> events = new ArrayList<>();
        events.add(new LeaseReleased(c.jobId()));
        next.forEach(claim -> events.add(new LeaseGranted(claim)));
        return Effect().persist(events).thenRun(s -> next.forEach(claim -> jobs.granted(claim.jobId(), entityId)));
    }

    private Effect<Event, TargetState> onGetLineage(TargetState state, GetLineage c) {
        return Effect().reply(c.replyTo(), new Lineage(entityId, state.holds(c.jobId(), Role.WRITE),
                Optional.ofNullable(state.lineage().get(c.source())), state.volume()));
    }

    /** Only the writer changes the volume's record (fencing, as for tokens). */
    private Effect<Event, TargetState> onRecordVolume(TargetState state, RecordVolume c) {
        if (!state.holds(c.jobId(), Role.WRITE)) {
            return Effect().reply(c.replyTo(), new Lineage(entityId, false, Optional.empty(), state.volume()));
        }
        return Effect().persist(new VolumeChanged(c.jobId(), c.change()))
                .thenReply(c.replyTo(), s -> new Lineage(entityId, true, Optional.empty(), s.volume()));
    }

    /** Only the writer records a token (fencing: a job that does not hold the lease records nothing). */
    private Effect<Event, TargetState> onRecordToken(TargetState state, RecordToken c) {
        if (!state.holds(c.jobId(), Role.WRITE)) {
            return Effect().reply(c.replyTo(), new Lineage(entityId, false, Optional.empty()));
        }
        return Effect().persist(new TokenRecorded(c.jobId(), c.source(), c.token()))
                .thenReply(c.replyTo(), s -> new Lineage(entityId, true, Optional.ofNullable(c.token())));
    }

    // ---- events ----

    @Override
    public EventHandler<TargetState, Event> eventHandler() {
        return newEventHandlerBuilder().forAnyState()
                .onEvent(LeaseQueued.class, (s, e) -> publish(s.queued(e.claim())))
                .onEvent(LeaseGranted.class, (s, e) -> publish(s.granted(e.claim())))
                .onEvent(LeaseReleased.class, (s, e) -> publish(s.released(e.jobId())))
                .onEvent(TokenRecorded.class, (s, e) -> publish(s.recorded(e.source(), e.token())))
                .onEvent(VolumeChanged.class, (s, e) -> publish(s.volumeChanged(e.jobId(), e.change())))
                .build();
    }

    /** How a location reaches a job wherever it runs now (cluster sharding, in production). */
    public interface JobNotifier {
        /** {@code jobId} holds the lease of {@code location} now. */
        void granted(String jobId, String location);

        /** {@code jobId} waits for {@code location}, which {@code holder} holds. */
        void queued(String jobId, String location, String holder);
    }
}
