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
            return Behaviors.receive(ClusterEvent.ClusterDomainEvent.class)
                    .onMessage(ClusterEvent.MemberUp.class, e -> line(cluster, "member-up", e.member().address()))
                    .onMessage(ClusterEvent.MemberLeft.class, e -> line(cluster, "member-leaving", e.member().address()))
                    .onMessage(ClusterEvent.MemberDowned.class, e -> line(cluster, "member-downed", e.member().address()))
                    .onMessage(ClusterEvent.MemberRemoved.class,
                            e -> line(cluster, "member-removed", e.member().address()))
                    .onMessage(ClusterEvent.UnreachableMember.class,
                            e -> line(cluster, "member-unreachable", e.member().address()))
                    .onMessage(ClusterEvent.ReachableMember.class,
                            e -> line(cluster, "member-reachable", e.member().address()))
                    .onAnyMessage(e -> Behaviors.same())
                    .build();
        });
    }

    private static Behavior<ClusterEvent.ClusterDomainEvent> line(Cluster cluster, String event, Address member) {
        long up = java.util.stream.StreamSupport.stream(cluster.state().getMembers().spliterator(), false)
                .filter(m -> m.status() == org.apache.pekko.cluster.MemberStatus.up()).count();
        log.info("event={} member={} self={} up={}", event, name(member), name(cluster.selfMember().address()), up);
        return Behaviors.same();
    }

    static String name(Address a) {
        return a.getHost().orElse("local") + ":" + a.getPort().map(String::valueOf).orElse("0");
    }
}
