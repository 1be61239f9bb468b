package org.blockferry.engine.actor;

import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Collections;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.Extension;
import org.apache.pekko.actor.typed.ExtensionId;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.Terminated;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.blockferry.engine.job.JobSpec;

/**
 * The running-job slots of one node: at most {@code max} jobs run at once, the others wait in
 * submission order. Two jobs that write the same target never run at once: the later one waits
 * (queued) until the earlier ends, then syncs from where it left the target (an incremental
 * after a full, say), instead of both writing it and racing over its change tracking. A job that
 * stops (passivated, crashed) gives its slot back.
 */
public final class JobSlots extends AbstractBehavior<JobSlots.Command> {

    public sealed interface Command {
    }

    record Request(String jobId, Set<String> targets, ActorRef<JobActor.Command> job) implements Command {
    }

    record Release(String jobId) implements Command {
    }

    /** How many jobs run and wait right now. */
    public record Get(ActorRef<Occupancy> replyTo) implements Command {
    }

    public record Occupancy(int running, int queued, int max) {
    }

    private final int max;
    private final Map<String, Request> running = new HashMap<>();
    private final Deque<Request> queue = new ArrayDeque<>();
    /** Queued job id to the running job whose target it waits for (logged once). */
    private final Map<String, String> blockedBy = new HashMap<>();

    private JobSlots(ActorContext<Command> context, int max) {
        super(context);
        this.max = max;
    }

    static Behavior<Command> create(int max) {
        return Behaviors.setup(ctx -> new JobSlots(ctx, max));
    }

    /** Starts this node's slots; call once per actor system, before any job runs. */
    public static ActorRef<Command> start(ActorSystem<?> system, int max) {
        return Holder.ID.apply(system).start(system, max);
    }

    static void request(ActorSystem<?> system, String jobId, Set<String> targets, ActorRef<JobActor.Command> job) {
        Holder.ID.apply(system).ref().tell(new Request(jobId, targets, job));
    }

    /** The targets a job writes, as comparable names: local paths normalized, URIs as given. */
    static Set<String> targets(JobSpec spec) {
        Set<String> targets = new HashSet<>();
        if (spec != null) {
            for (JobSpec.Disk d : spec.disks()) {
                String t = d.target();
                targets.add(t.contains("://") ? t : Path.of(t).toAbsolutePath().normalize().toString());
            }
        }
        return Set.copyOf(targets);
    }

    static void release(ActorSystem<?> system, String jobId) {
        Holder.ID.apply(system).ref().tell(new Release(jobId));
    }

    /** This node's slots (after {@link #start}). */
    public static ActorRef<Command> of(ActorSystem<?> system) {
        return Holder.ID.apply(system).ref();
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Request.class, this::onRequest)
                .onMessage(Release.class, this::onRelease)
                .onMessage(Get.class, this::onGet)
                .onSignal(Terminated.class, this::onTerminated)
                .build();
    }

    private Behavior<Command> onRequest(Request r) {
        if (running.containsKey(r.jobId())) {
            r.job().tell(JobActor.SlotGranted.INSTANCE); // asked again (recovery): still granted
            return this;
        }
        if (queue.stream().anyMatch(q -> q.jobId().equals(r.jobId()))) {
            return this;
        }
        getContext().watch(r.job());
        queue.add(r);
        grantWaiting();
        return this;
    }

    /** The running job that writes one of {@code r}'s targets, if any. */
    private Request holder(Request r) {
        for (Request other : running.values()) {
            if (!Collections.disjoint(other.targets(), r.targets())) {
                return other;
            }
        }
        return null;
    }

    private void grant(Request r) {
        running.put(r.jobId(), r);
        r.job().tell(JobActor.SlotGranted.INSTANCE);
    }

    private Behavior<Command> onRelease(Release r) {
        Request job = running.remove(r.jobId());
        if (job != null) {
            getContext().unwatch(job.job());
        }
        queue.removeIf(q -> q.jobId().equals(r.jobId()));
        grantWaiting();
        return this;
    }

    private Behavior<Command> onGet(Get g) {
        g.replyTo().tell(new Occupancy(running.size(), queue.size(), max));
        return this;
    }

    private Behavior<Command> onTerminated(Terminated t) {
        running.values().removeIf(r -> r.job().equals(t.getRef()));
        queue.removeIf(q -> q.job().equals(t.getRef()));
        grantWaiting();
        return this;
    }

    /** Grants waiting jobs in submission order, passing over those whose target is busy. */
    private void grantWaiting() {
        for (Iterator<Request> it = queue.iterator(); it.hasNext() && running.size() < max; ) {
            Request r = it.next();
            Request busy = holder(r);
            if (busy == null) {
                it.remove();
                grant(r);
            } else if (blockedBy.put(r.jobId(), busy.jobId()) == null) {
                getContext().getLog().info("event=job-waits-for-target job={} running_job={} targets={}", r.jobId(),
                        busy.jobId(), r.targets().stream().filter(busy.targets()::contains).toList());
            }
        }
        blockedBy.keySet().retainAll(queue.stream().map(Request::jobId).toList());
    }

    /** Holds the node's slots actor for the static accessors. */
    static final class Holder implements Extension {
        static final ExtensionId<Holder> ID = new ExtensionId<>() {
            @Override
            public Holder createExtension(ActorSystem<?> system) {
                return new Holder();
            }
        };

        private volatile ActorRef<Command> ref;

        synchronized ActorRef<Command> start(ActorSystem<?> system, int max) {
            if (ref == null) {
                ref = system.systemActorOf(create(max), "job-slots", Props.empty());
            }
            return ref;
        }

        ActorRef<Command> ref() {
            if (ref == null) {
                throw new IllegalStateException("JobSlots.start(system, max) was not called on this node");
            }
            return ref;
        }
    }
}
