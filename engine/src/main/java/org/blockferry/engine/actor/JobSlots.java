package org.blockferry.engine.actor;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
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

/**
 * The running-job slots of one node: at most {@code max} jobs run at once, the others wait in
 * submission order. A job that stops (passivated, crashed) gives its slot back.
 */
public final class JobSlots extends AbstractBehavior<JobSlots.Command> {

    public sealed interface Command {
    }

    record Request(String jobId, ActorRef<JobActor.Command> job) implements Command {
    }

    record Release(String jobId) implements Command {
    }

    /** How many jobs run and wait right now. */
    public record Get(ActorRef<Occupancy> replyTo) implements Command {
    }

    public record Occupancy(int running, int queued, int max) {
    }

    private final int max;
    private final Map<String, ActorRef<JobActor.Command>> running = new HashMap<>();
    private final Deque<Request> queue = new ArrayDeque<>();

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

    static void request(ActorSystem<?> system, String jobId, ActorRef<JobActor.Command> job) {
        Holder.ID.apply(system).ref().tell(new Request(jobId, job));
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
        if (running.size() < max) {
            grant(r);
        } else {
            queue.add(r);
        }
        return this;
    }

    private void grant(Request r) {
        running.put(r.jobId(), r.job());
        r.job().tell(JobActor.SlotGranted.INSTANCE);
    }

    private Behavior<Command> onRelease(Release r) {
        ActorRef<JobActor.Command> job = running.remove(r.jobId());
        if (job != null) {
            getContext().unwatch(job);
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
        running.values().removeIf(ref -> ref.equals(t.getRef()));
        queue.removeIf(q -> q.job().equals(t.getRef()));
        grantWaiting();
        return this;
    }

    private void grantWaiting() {
        while (running.size() < max && !queue.isEmpty()) {
            grant(queue.poll());
        }
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
