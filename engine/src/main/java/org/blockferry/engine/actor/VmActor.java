package org.blockferry.engine.actor;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.ChildFailed;
import org.apache.pekko.actor.typed.Terminated;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.blockferry.engine.copy.WriteFence;
import org.blockferry.engine.job.DiskState;
import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.job.JobState;

/**
 * Runs one job's disks: a {@link DiskActor} per disk that has not ended yet, at most
 * {@code max_parallel_disks} at once, each resuming from its checkpoint. Forwards their reports
 * to the job; with {@code fail_fast} the first failure stops the others.
 */
public final class VmActor extends AbstractBehavior<VmActor.Command> {

    public sealed interface Command {
    }

    /** Stop every disk (they flush what they wrote), then end. */
    enum Stop implements Command {
        INSTANCE
    }

    /** A disk's report, on its way to the job. */
    record FromDisk(String disk, DiskActor.Report report) implements Command {
    }

    private final ActorRef<JobActor.Command> job;
    private final JobRuntime runtime;
    private final JobState state;
    private final Deque<String> pending = new ArrayDeque<>();
    private final Map<ActorRef<DiskActor.Command>, String> running = new HashMap<>();
    private final Set<String> ended = new HashSet<>();
    private final int maxParallel;
    private final WriteFence fence;
    private boolean stopping;

    private VmActor(ActorContext<Command> context, JobState state, ActorRef<JobActor.Command> job, JobRuntime runtime,
                    WriteFence fence) {
        super(context);
        this.fence = fence;
        this.job = job;
        this.runtime = runtime;
        this.state = state;
        int parallel = state.spec().options().maxParallelDisks();
        this.maxParallel = parallel == 0 ? Integer.MAX_VALUE : parallel;
        for (JobSpec.Disk d : state.spec().disks()) {
            if (!state.disk(d.id()).status().isFinal()) {
                pending.add(d.id());
            }
        }
        startMore();
    }

    public static Behavior<Command> create(JobState state, ActorRef<JobActor.Command> job, JobRuntime runtime,
                                           WriteFence fence) {
        return Behaviors.setup(ctx -> new VmActor(ctx, state, job, runtime, fence));
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(FromDisk.class, this::onFromDisk)
                .onMessage(Stop.class, this::onStop)
                .onSignal(ChildFailed.class, this::onChildFailed)
                .onSignal(Terminated.class, this::onChildStopped)
                .build();
    }

    private Behavior<Command> onFromDisk(FromDisk m) {
        job.tell(new JobActor.DiskReport(m.disk(), m.report()));
        if (m.report() instanceof DiskActor.Completed || m.report() instanceof DiskActor.Failed) {
            ended.add(m.disk());
            if (m.report() instanceof DiskActor.Failed && state.spec().options().failFast()) {
                stopAll();
            }
        }
        return this;
    }

    private Behavior<Command> onStop(Stop s) {
        stopAll();
        return afterChange();
    }

    /** The disk crashed on something unexpected (not a transient fault, which it handles itself). */
    private Behavior<Command> onChildFailed(ChildFailed f) {
        String disk = running.remove(f.getRef().<DiskActor.Command>unsafeUpcast());
        if (disk != null && !ended.contains(disk) && !stopping) {
            ended.add(disk);
            job.tell(new JobActor.DiskReport(disk, new DiskActor.Failed("crashed: " + FailureBudget.reasonOf(f.getCause()))));
            if (state.spec().options().failFast()) {
                stopAll();
            }
        }
        return afterChange();
    }

    private Behavior<Command> onChildStopped(Terminated t) {
        running.remove(t.getRef().<DiskActor.Command>unsafeUpcast());
        return afterChange();
    }

    private Behavior<Command> afterChange() {
        if (!stopping) {
            startMore();
        }
        if (running.isEmpty() && (stopping || pending.isEmpty())) {
            job.tell(JobActor.VmEnded.INSTANCE);
            return Behaviors.stopped();
        }
        return this;
    }

    private void startMore() {
        while (running.size() < maxParallel && !pending.isEmpty()) {
            String id = pending.poll();
            DiskState disk = state.disk(id);
            ActorRef<DiskActor.Command> ref = getContext().spawn(DiskActor.create(state.jobId(), disk, state.spec(),
                    disk.checkpoint(), getContext().getSelf(), runtime, fence), "disk-" + id);
            getContext().watch(ref);
            running.put(ref, id);
        }
    }

    private void stopAll() {
        stopping = true;
        pending.clear();
        running.keySet().forEach(ref -> ref.tell(DiskActor.Stop.INSTANCE));
    }
}
