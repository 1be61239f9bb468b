package org.blockferry.engine.actor;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
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
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;
import org.blockferry.engine.CborSerializable;

/**
 * The running slots of one node: at most {@code blockferry.jobs.max-running} jobs copy at once
 * here, the others wait in the order they asked. A job asks once it holds the leases of all its
 * locations (who may write what is the {@link TargetActor}s' business, not this). A job that
 * stops (passivated, crashed) gives its slot back.
 */
public final class RunSlots extends AbstractBehavior<RunSlots.Command> {

    public sealed interface Command {
    }

    /** {@code disks}: how many disks the job still has to copy (the node's load, for placement). */
    record Request(String jobId, ActorRef<JobActor.Command> job, int disks) implements Command {
    }

    record Release(String jobId) implements Command {
    }

    /** How many jobs run and wait right now (asked by the placement from any node). */
    public record Get(ActorRef<Occupancy> replyTo) implements Command, CborSerializable {
    }

    /**
     * {@code runningDisks}: the disks of the running jobs still to copy; {@code waiting}: the
     * jobs that hold their leases and wait for a slot here, first come first.
     */
    public record Occupancy(int running, int queued, int max, int runningDisks, List<String> waiting)
            implements CborSerializable {
        /** Whether another job could start here now. */
        public boolean hasRoom() {
            return running + queued < max;
        }
    }

    /** Every node's slots, for the placement of jobs over the cluster. */
    public static final ServiceKey<Command> KEY = ServiceKey.create(Command.class, "blockferry-run-slots");

    private final int max;
    private final Map<String, ActorRef<JobActor.Command>> running = new HashMap<>();
    private final Map<String, Integer> disks = new HashMap<>();
    private final Deque<Request> queue = new ArrayDeque<>();

    private RunSlots(ActorContext<Command> context, int max) {
        super(context);
        this.max = max;
        context.getSystem().receptionist().tell(Receptionist.register(KEY, context.getSelf()));
    }

    public static Behavior<Command> create(int max) {
        return Behaviors.setup(ctx -> new RunSlots(ctx, max));
    }

    /** Starts this node's slots; call once per actor system, before any job runs. */
    public static ActorRef<Command> start(ActorSystem<?> system, int max) {
        return Holder.ID.apply(system).start(system, max);
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
        disks.put(r.jobId(), r.disks());
        if (running.containsKey(r.jobId())) {
            running.put(r.jobId(), r.job()); // asked again (the job restarted): still granted
            getContext().watch(r.job());
            r.job().tell(JobActor.SlotGranted.INSTANCE);
            return this;
        }
        if (queue.stream().noneMatch(q -> q.jobId().equals(r.jobId()))) {
            getContext().watch(r.job());
            queue.add(r);
        }
        grantWaiting();
        return this;
    }

    private Behavior<Command> onRelease(Release r) {
        ActorRef<JobActor.Command> job = running.remove(r.jobId());
        disks.remove(r.jobId());
        if (job != null) {
            getContext().unwatch(job);
        }
        queue.removeIf(q -> q.jobId().equals(r.jobId()));
        grantWaiting();
        return this;
    }

    private Behavior<Command> onGet(Get g) {
        int runningDisks = running.keySet().stream().mapToInt(id -> disks.getOrDefault(id, 1)).sum();
        g.replyTo().tell(new Occupancy(running.size(), queue.size(), max, runningDisks,
                queue.stream().map(Request::jobId).toList()));
        return this;
    }

    private Behavior<Command> onTerminated(Terminated t) {
        running.entrySet().removeIf(e -> {
            boolean gone = e.getValue().equals(t.getRef());
            if (gone) {
                disks.remove(e.getKey());
            }
            return gone;
        });
        queue.removeIf(q -> q.job().equals(t.getRef()));
        grantWaiting();
        return this;
    }

    private void grantWaiting() {
        while (running.size() < max && !queue.isEmpty()) {
            Request r = queue.poll();
            running.put(r.jobId(), r.job());
            r.job().tell(JobActor.SlotGranted.INSTANCE);
        }
    }

    /** Holds the node's slots actor. */
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
                ref = system.systemActorOf(create(max), "run-slots", Props.empty());
            }
            return ref;
        }

        ActorRef<Command> ref() {
            if (ref == null) {
                throw new IllegalStateException("RunSlots.start(system, max) was not called on this node");
            }
            return ref;
        }
    }
}
