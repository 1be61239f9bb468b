package org.blockferry.api.node;

import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;
import org.blockferry.engine.actor.JobActor;
import org.blockferry.engine.actor.JobPeers;
import org.blockferry.engine.actor.JobRuntime;
import org.blockferry.engine.actor.RunSlots;
import org.blockferry.engine.actor.TargetActor;
import org.blockferry.persistence.Database;
import org.blockferry.persistence.readside.JobReadSide;

/**
 * Wires a node once its actor system runs: cluster membership, the node's running slots, the
 * sharded locations and jobs, and the read side. Nothing else. Runs before anything talks to a
 * job entity.
 */
final class NodeWiring {
    private NodeWiring() {
    }

    static void wire(ActorSystem<?> system, JobRuntime runtime, Database database, boolean joinSelf) {
        if (joinSelf) {
            Cluster cluster = Cluster.get(system);
            cluster.manager().tell(Join.create(cluster.selfMember().address()));
        }
        MembershipLog.start(system);
        RunSlots.start(system, runtime.jobs().maxRunning());
        TargetActor.init(system, JobPeers.notifier(system));
        JobActor.init(system, runtime);
        JobReadSide.start(system, database.dataSource()).whenComplete((done, e) -> {
            if (e != null) {
                system.log().error("event=read-side-failed error={}", e.toString());
            }
        });
    }
}
