package org.blockferry.engine.source.vmware;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.pattern.StatusReply;
import org.blockferry.engine.source.vmware.vim.ManagedObject;
import org.blockferry.engine.source.vmware.vim.VimClient;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This node's snapshots of the VMs its jobs read, one actor per node (see {@link JobSnapshotLeases}
 * for how a disk's sync reaches it). The disks of a job share ONE snapshot, {@code blockferry-<job>},
 * so they are copied as of the same moment: the first disk to ask takes it (enabling CBT first if
 * it is off, shutting the VM down first for a final sync, removing the job's orphans), later
 * disks of the job join it, and the last one to let go removes it.
 *
 * <p>Work on one VM is serialized: while a snapshot of the VM is being taken or removed, other
 * requests for that VM wait in order, so no other snapshot of this node falls between a snapshot
 * and the changeIds read right after it. The vCenter calls block (a guest's shutdown takes
 * minutes) and run on {@code vcenter}, never on this actor's thread; their results come back as
 * messages. A removal vCenter does not answer is tried again in the background (2 s, doubling up
 * to 1 min apart) for {@code blockferry.vmware.snapshot-cleanup-timeout}; a next run of the job
 * also removes it (as an orphan).
 */
final class JobSnapshots extends AbstractBehavior<JobSnapshots.Command> {
    private static final Logger log = LoggerFactory.getLogger(JobSnapshots.class);
    private static final Duration FIRST_RETRY = Duration.ofSeconds(2);
    private static final Duration LONGEST_RETRY = Duration.ofMinutes(1);

    sealed interface Command {
    }

    /** A disk of {@code job} holds the job's snapshot of {@code vm}, as {@code holder}, until it releases it. */
    record Acquire(String holder, VmJob job, VimClient vim, ManagedObject vm, boolean finalSync,
                   ActorRef<StatusReply<JobSnapshot>> replyTo) implements Command {
    }

    /**
     * The hold ends; a hold still waiting or being taken ends as soon as it is granted. The last
     * hold removes the snapshot with {@code vim}, or with a session of its own when it is null.
     * {@code replyTo} (may be null) hears once that is done or handed to the background.
     */
    record Release(String holder, VimClient vim, ActorRef<Done> replyTo) implements Command {
    }

    /**
     * A disk's changeId at the first snapshot of its job on this node ({@code changeId} if this
     * is the first). A retry resumes from its checkpoint with data from a newer snapshot, so what
     * changed below the checkpoint in between is only covered if the token stays the first one.
     */
    record KeepFirstChangeId(String key, String changeId, ActorRef<FirstChangeId> replyTo) implements Command {
    }

    record FirstChangeId(String changeId) {
    }

    /** The disk's copy completed: its next sync starts from a new first changeId. */
    record ForgetFirstChangeId(String key) implements Command {
    }

    private record CbtEnabled(String vmKey, String jobId) implements Command {
    }

    private record Taken(Acquire request, VcenterSnapshots.Taken taken, Throwable failure) implements Command {
    }

    private record Removed(String vmKey, Release request) implements Command {
    }

    private record RemovalFailed(VmJob job, ManagedObject snapshot, Throwable failure) implements Command {
    }

    /** A removal retried in the background until {@code deadline} ({@link System#nanoTime()}). */
    private record LateRemoval(VmJob job, ManagedObject snapshot, long deadline) {
    }

    private record RetryRemoval(LateRemoval removal, Duration delay) implements Command {
    }

    private record RetryEnded(LateRemoval removal, Duration delay, Throwable failure) implements Command {
    }

    /** The job's snapshot while any of its disks holds it. */
    private record Shared(VmJob job, JobSnapshot snapshot, Set<String> holders) {
    }

    /** The work on one VM: the acquire or release running against vCenter, and the requests after it. */
    private static final class VmWork {
        Command running;
        final Deque<Command> waiting = new ArrayDeque<>();
    }

    private final Executor vcenter;
    private final TimerScheduler<Command> timers;
    private final Map<String, Shared> shared = new HashMap<>(); // by VmJob.key()
    private final Map<String, String> holds = new HashMap<>(); // holder -> VmJob.key()
    private final Map<String, VmWork> vms = new HashMap<>(); // by VmJob.vmKey()
    /** Which job last enabled CBT on a VM: its other disks, and its retries, say so too. */
    private final Map<String, String> enabledBy = new HashMap<>();
    private final Map<String, String> firstChangeIds = new HashMap<>();
    /** Holders released while their snapshot was being taken: released as soon as it is. */
    private final Set<String> abandoned = new HashSet<>();

    private JobSnapshots(ActorContext<Command> context, TimerScheduler<Command> timers, Executor vcenter) {
        super(context);
        this.timers = timers;
        this.vcenter = vcenter;
    }

    /**
     * {@code vcenter} runs the blocking vCenter calls: not a pool whose threads wait for this
     * actor's answers (see {@link JobSnapshotLeases}).
     */
    static Behavior<Command> create(Executor vcenter) {
        return Behaviors.withTimers(timers -> Behaviors.setup(ctx -> new JobSnapshots(ctx, timers, vcenter)));
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Acquire.class, this::onAcquire)
                .onMessage(Release.class, this::onRelease)
                .onMessage(KeepFirstChangeId.class, this::onKeepFirstChangeId)
                .onMessage(ForgetFirstChangeId.class, this::onForgetFirstChangeId)
                .onMessage(CbtEnabled.class, this::onCbtEnabled)
                .onMessage(Taken.class, this::onTaken)
                .onMessage(Removed.class, this::onRemoved)
                .onMessage(RemovalFailed.class, this::onRemovalFailed)
                .onMessage(RetryRemoval.class, this::onRetryRemoval)
                .onMessage(RetryEnded.class, this::onRetryEnded)
                .build();
    }

    private Behavior<Command> onAcquire(Acquire a) {
        enqueue(a.job().vmKey(), a);
        return this;
    }

    private Behavior<Command> onRelease(Release r) {
        String key = holds.get(r.holder());
        if (key != null) {
            enqueue(shared.get(key).job().vmKey(), r);
            return this;
        }
        for (VmWork w : vms.values()) { // not granted yet: its caller gave up waiting
            if (w.running instanceof Acquire a && a.holder().equals(r.holder())) {
                abandoned.add(r.holder());
            }
            w.waiting.removeIf(c -> c instanceof Acquire a && a.holder().equals(r.holder()));
        }
        done(r);
        return this;
    }

    private Behavior<Command> onKeepFirstChangeId(KeepFirstChangeId m) {
        m.replyTo().tell(new FirstChangeId(firstChangeIds.computeIfAbsent(m.key(), k -> m.changeId())));
        return this;
    }

    private Behavior<Command> onForgetFirstChangeId(ForgetFirstChangeId m) {
        firstChangeIds.remove(m.key());
        return this;
    }

    private Behavior<Command> onCbtEnabled(CbtEnabled m) {
        enabledBy.put(m.vmKey(), m.jobId());
        return this;
    }

    private void enqueue(String vmKey, Command request) {
        VmWork work = vms.computeIfAbsent(vmKey, k -> new VmWork());
        work.waiting.add(request);
        runNext(vmKey, work);
    }

    /** Starts the VM's waiting requests in order until one has to wait for vCenter. */
    private void runNext(String vmKey, VmWork work) {
        while (work.running == null && !work.waiting.isEmpty()) {
            Command next = work.waiting.poll();
            if (next instanceof Acquire a) {
                start(work, a);
            } else {
                start(work, (Release) next);
            }
        }
        if (work.running == null) {
            vms.remove(vmKey);
        }
    }

    private void start(VmWork work, Acquire a) {
        Shared joined = shared.get(a.job().key());
        if (joined != null) {
            grant(joined, a);
            return;
        }
        work.running = a;
        VcenterSnapshots.Events events = events(a.job());
        getContext().pipeToSelf(CompletableFuture.supplyAsync(() -> {
            try {
                return VcenterSnapshots.take(a.vim(), a.vm(), a.job(), a.finalSync(), events);
            } catch (IOException e) {
                throw new CompletionException(e);
            }
        }, vcenter), (taken, failure) -> new Taken(a, taken, unwrap(failure)));
    }

    private void start(VmWork work, Release r) {
        String key = holds.remove(r.holder());
        Shared s = key == null ? null : shared.get(key);
        if (s == null) { // released twice
            done(r);
            return;
        }
        s.holders().remove(r.holder());
        if (!s.holders().isEmpty()) {
            done(r);
            return;
        }
        shared.remove(key);
        work.running = r;
        VcenterSnapshots.Events events = events(s.job());
        ManagedObject snapshot = s.snapshot().snapshot();
        getContext().pipeToSelf(CompletableFuture.runAsync(() -> {
            if (r.vim() != null) {
                VcenterSnapshots.remove(r.vim(), snapshot, s.job(), events);
            } else {
                VcenterSnapshots.removeInOwnSession(snapshot, s.job(), events);
            }
        }, vcenter), (ok, failure) -> new Removed(s.job().vmKey(), r));
    }

    private Behavior<Command> onTaken(Taken t) {
        Acquire a = t.request();
        VmJob job = a.job();
        VmWork work = vms.get(job.vmKey());
        work.running = null;
        if (t.failure() != null) {
            abandoned.remove(a.holder());
            a.replyTo().tell(StatusReply.error(t.failure()));
        } else {
            JobSnapshot snapshot = new JobSnapshot(job.key(), a.vm(), t.taken().snapshot(), t.taken().disks(),
                    job.jobId().equals(enabledBy.get(job.vmKey())), t.taken().afterCrash());
            Shared s = new Shared(job, snapshot, new HashSet<>());
            shared.put(job.key(), s);
            grant(s, a);
            if (abandoned.remove(a.holder())) {
                work.waiting.addFirst(new Release(a.holder(), null, null));
            }
        }
        runNext(job.vmKey(), work);
        return this;
    }

    private Behavior<Command> onRemoved(Removed m) {
        VmWork work = vms.get(m.vmKey());
        work.running = null;
        done(m.request());
        runNext(m.vmKey(), work);
        return this;
    }

    private void grant(Shared s, Acquire a) {
        s.holders().add(a.holder());
        holds.put(a.holder(), s.job().key());
        a.replyTo().tell(StatusReply.success(s.snapshot()));
    }

    private static void done(Release r) {
        if (r.replyTo() != null) {
            r.replyTo().tell(Done.getInstance());
        }
    }

    /** What the vCenter calls for {@code job} tell this actor, from the thread they run on. */
    private VcenterSnapshots.Events events(VmJob job) {
        ActorRef<Command> self = getContext().getSelf();
        return new VcenterSnapshots.Events() {
            @Override
            public void cbtEnabled() {
                self.tell(new CbtEnabled(job.vmKey(), job.jobId()));
            }

            @Override
            public void removalFailed(ManagedObject snapshot, Exception failure) {
                self.tell(new RemovalFailed(job, snapshot, failure));
            }
        };
    }

    private Behavior<Command> onRemovalFailed(RemovalFailed m) {
        long deadline = System.nanoTime() + m.job().settings().snapshotCleanupTimeout().toNanos();
        retryLater(new LateRemoval(m.job(), m.snapshot(), deadline), FIRST_RETRY, m.failure());
        return this;
    }

    private Behavior<Command> onRetryRemoval(RetryRemoval m) {
        LateRemoval r = m.removal();
        getContext().pipeToSelf(CompletableFuture.runAsync(() -> {
            try {
                VcenterSnapshots.removeLate(r.snapshot(), r.job());
            } catch (IOException e) {
                throw new CompletionException(e);
            }
        }, vcenter), (ok, failure) -> new RetryEnded(r, m.delay(), unwrap(failure)));
        return this;
    }

    private Behavior<Command> onRetryEnded(RetryEnded m) {
        if (m.failure() != null) {
            Duration doubled = m.delay().multipliedBy(2);
            retryLater(m.removal(), doubled.compareTo(LONGEST_RETRY) > 0 ? LONGEST_RETRY : doubled, m.failure());
        }
        return this;
    }

    private void retryLater(LateRemoval r, Duration delay, Throwable failure) {
        String vmPath = r.job().vmPath();
        String jobId = r.job().jobId();
        String error = failure.getMessage() != null ? failure.getMessage() : failure.toString();
        if (System.nanoTime() + delay.toNanos() > r.deadline()) {
            log.error("event=snapshot-remove-gave-up vm={} job={} snapshot={} name=blockferry-{} error={}"
                    + " action=\"run the job again or remove the snapshot in vCenter\"", vmPath, jobId,
                    r.snapshot().value(), jobId, error);
            return;
        }
        log.warn("event=snapshot-remove-failed vm={} job={} snapshot={} retry_in={} error={}", vmPath, jobId,
                r.snapshot().value(), delay, error);
        timers.startSingleTimer(r, new RetryRemoval(r, delay), delay);
    }

    private static Throwable unwrap(Throwable failure) {
        return failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
    }
}
