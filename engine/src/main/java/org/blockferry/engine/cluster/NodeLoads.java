package org.blockferry.engine.cluster;

import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.Extension;
import org.apache.pekko.actor.typed.ExtensionId;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.cluster.typed.Cluster;
import org.blockferry.engine.actor.RunSlots;

/**
 * What every node of the cluster runs and has room for, as this node last heard it: each node's
 * {@link RunSlots}, found through the receptionist and asked every {@link #EVERY}. Read by the
 * {@link LoadPlacement} wherever the shard coordinator runs.
 */
public final class NodeLoads implements Extension {

    /** How often each node is asked. */
    static final Duration EVERY = Duration.ofSeconds(1);

    /** A node's slots as sampled at {@code atNanos} (this JVM's monotonic clock). */
    public record Sample(RunSlots.Occupancy occupancy, long atNanos) {
    }

    public static final ExtensionId<NodeLoads> ID = new ExtensionId<>() {
        @Override
        public NodeLoads createExtension(ActorSystem<?> system) {
            return new NodeLoads(system);
        }
    };

    private final Map<Address, Sample> samples = new ConcurrentHashMap<>();
    private final Address self;

    private NodeLoads(ActorSystem<?> system) {
        this.self = Cluster.get(system).selfMember().address();
        system.systemActorOf(poller(), "node-loads", Props.empty());
    }

    public static NodeLoads get(ActorSystem<?> system) {
        return ID.apply(system);
    }

    /** The latest sample of every node that has slots now. */
    public Map<Address, Sample> snapshot() {
        return Map.copyOf(samples);
    }

    /** The cluster address of {@code a}: this node's for a local path. */
    Address clusterAddress(Address a) {
        return a.hasLocalScope() ? self : a;
    }

    // ---- the poller ----

    private sealed interface Msg {
    }

    private record Nodes(Set<ActorRef<RunSlots.Command>> slots) implements Msg {
    }

    private enum Poll implements Msg {
        INSTANCE
    }

    private record Sampled(Address node, RunSlots.Occupancy occupancy) implements Msg {
    }

    private enum Missed implements Msg {
        INSTANCE
    }

    private Behavior<Msg> poller() {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
            ActorRef<Receptionist.Listing> listings = ctx.messageAdapter(Receptionist.Listing.class,
                    l -> new Nodes(l.getServiceInstances(RunSlots.KEY)));
            ctx.getSystem().receptionist().tell(Receptionist.subscribe(RunSlots.KEY, listings));
            timers.startTimerWithFixedDelay(Poll.INSTANCE, EVERY);
            Set<ActorRef<RunSlots.Command>>[] known = new Set[] {Set.of()};
            return Behaviors.receive(Msg.class)
                    .onMessage(Nodes.class, n -> {
                        known[0] = n.slots();
                        Set<Address> alive = new java.util.HashSet<>();
                        n.slots().forEach(ref -> alive.add(clusterAddress(ref.path().address())));
                        samples.keySet().retainAll(alive);
                        return Behaviors.same();
                    })
                    .onMessage(Poll.class, p -> {
                        for (ActorRef<RunSlots.Command> ref : known[0]) {
                            Address node = clusterAddress(ref.path().address());
                            ctx.ask(RunSlots.Occupancy.class, ref, EVERY, RunSlots.Get::new,
                                    (o, e) -> o != null ? new Sampled(node, o) : Missed.INSTANCE);
                        }
                        return Behaviors.same();
                    })
                    .onMessage(Sampled.class, s -> {
                        samples.put(s.node(), new Sample(s.occupancy(), System.nanoTime()));
                        return Behaviors.same();
                    })
                    .onMessage(Missed.class, m -> Behaviors.same())
                    .build();
        }));
    }
}
