package org.blockferry.api.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Subscribe;
import org.blockferry.engine.actor.JobReply;
import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.job.JobState;
import org.blockferry.engine.plan.CopyMode;
import org.blockferry.nbd.testing.DiskChecksum;
import org.blockferry.nbd.testing.NbdkitServer;
import org.blockferry.nbd.testing.TestPeers;
import org.blockferry.persistence.PersistenceSettings;
import org.junit.jupiter.api.Test;

/**
 * A one-shot node ({@code replicate}, {@code demo}) alone in its cluster stops without going
 * through a leave (no member could take anything over); a serving node still leaves. Either way
 * its job's lease is free once it has stopped, and its copy is whole.
 */
class OneShotExitTest {

    @Test
    void aOneShotNodeAloneStopsWithoutALeaveAServingNodeLeavesBothGiveTheirJobsBack() throws Exception {
        Path dir = TestPeers.scratchDirectory("one-shot-exit-");
        PersistenceSettings db = TestDatabases.create(TestDatabases.Kind.H2, dir);
        try (NbdkitServer source = NbdkitServer.start(dir, "sparse-random", "size=16M", "percent=50", "seed=3");
             NbdkitServer target = NbdkitServer.start(dir, "memory", "size=16M")) {
            List<String> oneShot = runOneJobAndStop(dir, db, Node.Access.OPERATOR, "one-shot", source, target);
            assertEquals(List.of(), oneShot, "a one-shot node alone stops without a leave");
            List<String> serving = runOneJobAndStop(dir, db, Node.Access.SERVE, "serving", source, target);
            assertTrue(serving.contains("MemberLeft"), "a serving node leaves its cluster: " + serving);

            try (Node later = NodeFixture.start(dir, db, Map.of())) {
                assertEquals(Optional.empty(), later.jobOwnerElsewhere("one-shot"), "the one-shot job's lease is free");
                assertEquals(Optional.empty(), later.jobOwnerElsewhere("serving"), "the served job's lease is free");
            }
        }
    }

    /**
     * Runs job {@code id} (source to target) to completion on a new node of {@code access}, stops
     * the node, and returns the kinds of the events about the node's own membership it published
     * while it stopped (its start's {@code MemberUp} left out).
     */
    private static List<String> runOneJobAndStop(Path dir, PersistenceSettings db, Node.Access access, String id,
                                                 NbdkitServer source, NbdkitServer target) throws Exception {
        List<String> seen = new CopyOnWriteArrayList<>();
        CountDownLatch subscribed = new CountDownLatch(1);
        try (Node node = NodeFixture.start(dir, db, Map.of(), access)) {
            JobSpec spec = new JobSpec(id, "vm", null, List.of(new JobSpec.Disk("d0", source.uri(), target.uri())),
                    CopyMode.FULL, null).validated();
            assertInstanceOf(JobReply.Accepted.class,
                    node.jobs().submit(spec).toCompletableFuture().get(30, TimeUnit.SECONDS));
            JobState done = NodeFixture.awaitFinal(node, id, Duration.ofMinutes(2));
            assertEquals(JobState.JobStatus.COMPLETED, done.status(), String.valueOf(done.error()));
            assertEquals(DiskChecksum.ofUri(source.uri()), DiskChecksum.ofUri(target.uri()));

            Cluster cluster = Cluster.get(node.system());
            var self = cluster.selfMember().uniqueAddress();
            ActorRef<ClusterEvent.MemberEvent> probe = node.system().systemActorOf(
                    Behaviors.receiveMessage((ClusterEvent.MemberEvent e) -> {
                        if (!e.member().uniqueAddress().equals(self)) {
                            return Behaviors.same();
                        }
                        if (e instanceof ClusterEvent.MemberUp) {
                            subscribed.countDown(); // the subscription's initial state: it is in place
                        } else {
                            seen.add(e.getClass().getSimpleName());
                        }
                        return Behaviors.same();
                    }), "exit-probe-" + id, Props.empty());
            cluster.subscriptions().tell(Subscribe.create(probe, ClusterEvent.MemberEvent.class));
            assertTrue(subscribed.await(10, TimeUnit.SECONDS), "the probe hears of the node's own membership");
        } // stops the node: its coordinated shutdown
        return List.copyOf(seen);
    }
}
