package org.blockferry.api.node;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.Executor;
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
 * Wakes the unfinished jobs after a member left the cluster or was removed from it (downed).
 *
 * <p>Job shards are not remembered (each would cost a journal write in the coordinator, one
 * submission at a time), so nothing starts the jobs of a removed member by itself. Every
 * survivor sends a wake-up to every unfinished job it can find (the read side and the journal's
 * tail): a job that runs elsewhere ignores it, a job whose shard was on the removed member starts
 * where the placement puts it and resumes from its checkpoint. The coordinator gives a removed
 * member's shards out again only after {@code pekko.cluster.down-removal-margin}, so the first
 * wake-up comes just after that, and two more follow for a coordinator that moved too. A member
 * that leaves (SIGTERM) has handed its shards off before it is seen leaving: its jobs are woken
 * at once (and once more), not only after its removal.
 */
final class JobWaker {
    private static final Logger log = LoggerFactory.getLogger(JobWaker.class);

    /** After the removal margin: when the wake-ups go out. */
    static final List<Duration> AFTER_MARGIN = List.of(Duration.ofMillis(500), Duration.ofSeconds(5),
            Duration.ofSeconds(15));
    /** After a member is seen leaving. */
    static final List<Duration> AFTER_LEFT = List.of(Duration.ofMillis(300), Duration.ofSeconds(3));

    /** Wakes every unfinished job; runs JDBC. */
    interface WakeAll {
        int wake() throws Exception;
    }

    /** A wake-up due, and why (for the log). */
    private record Wake(String reason) {
    }

    private JobWaker() {
    }

    static void start(ActorSystem<?> system, Duration removalMargin, WakeAll wakeAll, Executor blocking) {
        system.systemActorOf(behavior(removalMargin, wakeAll, blocking), "job-waker", Props.empty());
    }

    private static Behavior<Object> behavior(Duration removalMargin, WakeAll wakeAll, Executor blocking) {
        return Behaviors.setup(ctx -> {
            Cluster cluster = Cluster.get(ctx.getSystem());
            cluster.subscriptions().tell(Subscribe.create(ctx.getSelf().narrow(), ClusterEvent.MemberRemoved.class));
            cluster.subscriptions().tell(Subscribe.create(ctx.getSelf().narrow(), ClusterEvent.MemberLeft.class));
            return Behaviors.receive(Object.class)
                    .onMessage(ClusterEvent.MemberEvent.class, e -> {
                        if (!e.member().uniqueAddress().equals(cluster.selfMember().uniqueAddress())) {
                            boolean removed = e instanceof ClusterEvent.MemberRemoved;
                            Wake wake = new Wake(removed ? "member-removed" : "member-left");
                            Duration from = removed ? removalMargin : Duration.ZERO;
                            for (Duration d : removed ? AFTER_MARGIN : AFTER_LEFT) {
                                ctx.scheduleOnce(from.plus(d), ctx.getSelf(), wake);
                            }
                        }
                        return Behaviors.same();
                    })
                    .onMessage(Wake.class, w -> {
                        blocking.execute(() -> {
                            try {
                                int n = wakeAll.wake();
                                log.info("event=jobs-woken reason={} count={}", w.reason(), n);
                            } catch (Exception e) {
                                log.warn("event=jobs-wake-failed error={}", e.toString());
                            }
                        });
                        return Behaviors.same();
                    })
                    .onAnyMessage(m -> Behaviors.same())
                    .build();
        });
    }
}
