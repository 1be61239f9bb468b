package org.blockferry.persistence.readside;

import java.util.Map;

/**
 * What the cluster's nodes are busy with, as the read side has it: per node ("host:port", the
 * job's {@code node}), its running jobs and copying disks; and the jobs queued cluster-wide.
 * A job counts for the node it names until another node takes it up.
 *
 * @param nodes       per node that runs at least one job; a node not in it runs nothing
 * @param waitingJobs jobs queued, on whichever node they will run
 */
public record ClusterLoad(Map<String, NodeLoad> nodes, long waitingJobs) {

    /**
     * One node's share.
     *
     * @param runningJobs  jobs running (or cancelling) there
     * @param runningDisks disks of those jobs that are copying
     */
    public record NodeLoad(long runningJobs, long runningDisks) {
        public static final NodeLoad IDLE = new NodeLoad(0, 0);
    }

    public ClusterLoad {
        nodes = Map.copyOf(nodes);
    }

    /** The load of {@code node}: {@link NodeLoad#IDLE} when it runs nothing. */
    public NodeLoad of(String node) {
        return nodes.getOrDefault(node, NodeLoad.IDLE);
    }
}
