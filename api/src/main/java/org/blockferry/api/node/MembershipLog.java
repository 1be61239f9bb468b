package org.blockferry.api.node;

import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Subscribe;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One log line per change of the cluster's membership as this node sees it: a node up,
 * unreachable, reachable again, leaving, downed or removed, with the number of nodes up.
 */
final class MembershipLog {
    private static final Logger log = LoggerFactory.getLogger(MembershipLog.class);

    private MembershipLog() {
    }

    static void start(ActorSystem<?> system) {
        system.systemActorOf(behavior(), "membership-log", Props.empty());
    }

    private static Behavior<ClusterEvent.ClusterDomainEvent> behavior() {
        return Behaviors.setup(ctx -> {
            Cluster cluster = Cluster.get(ctx.getSystem());
            cluster.subscriptions().tell(Subscribe.create(ctx.getSelf().<ClusterEvent.MemberEvent>narrow(), ClusterEvent.MemberEvent.class));
            cluster.subscriptions().tell(Subscribe.create(ctx.getSelf().<ClusterEvent.ReachabilityEvent>narrow(),
                    ClusterEvent.ReachabilityEvent.class));
            java.util.Set<Address> up = new java.util.HashSet<>();
            return Behaviors.receive(ClusterEvent.ClusterDomainEvent.class)
                    .onMessage(ClusterEvent.MemberUp.class, e -> {
                        up.add(e.member().address());
                        return line(cluster, "member-up", e.member().address(), up);
                    })
                    .onMessage(ClusterEvent.MemberLeft.class,
                            e -> line(cluster, "member-leaving", e.member().address(), up))
                    .onMessage(ClusterEvent.MemberDowned.class,
                            e -> line(cluster, "member-downed", e.member().address(), up))
                    .onMessage(ClusterEvent.MemberRemoved.class, e -> {
                        up.remove(e.member().address());
                        return line(cluster, "member-removed", e.member().address(), up);
                    })
                    .onMessage(ClusterEvent.UnreachableMember.class,
                            e -> line(cluster, "member-unreachable", e.member().address(), up))
                    .onMessage(ClusterEvent.ReachableMember.class,
                            e -> line(cluster, "member-reachable", e.member().address(), up))
                    .onAnyMessage(e -> Behaviors.same())
                    .build();
        });
    }

    private static Behavior<ClusterEvent.ClusterDomainEvent> line(Cluster cluster, String event, Address member,
                                                                 java.util.Set<Address> up) {
        log.info("event={} member={} self={} up={}", event, name(member), name(cluster.selfMember().address()),
                up.size());
        return Behaviors.same();
    }

    static String name(Address a) {
        return a.getHost().orElse("local") + ":" + a.getPort().map(String::valueOf).orElse("0");
    }
}
