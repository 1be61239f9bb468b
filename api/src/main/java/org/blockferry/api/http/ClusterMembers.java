package org.blockferry.api.http;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.apache.pekko.actor.Address;
import org.apache.pekko.cluster.ClusterEvent.CurrentClusterState;
import org.apache.pekko.cluster.Member;
import org.blockferry.persistence.readside.ClusterLoad;

/**
 * The document of {@code GET /api/v1/cluster}: the members as this node sees them (status,
 * reachability, roles) with the jobs and disks each runs as the read side has them, and the jobs
 * queued cluster-wide. A node that is no member any more but still has running jobs on the read
 * side (they have not moved yet) is listed as {@code removed} and unreachable, so that no running
 * job is left out.
 */
final class ClusterMembers {
    private ClusterMembers() {
    }

    /** A member as jobs name it ({@code JobRunsOn}, {@code Node.name}): "host:port". */
    static String node(Address address) {
        return org.blockferry.api.node.Node.name(address);
    }

    static Map<String, Object> document(CurrentClusterState state, Address self, ClusterLoad load) {
        Map<String, Member> members = new LinkedHashMap<>();
        state.getMembers().forEach(m -> members.put(node(m.address()), m));
        Set<Member> unreachable = state.getUnreachable();
        unreachable.forEach(m -> members.putIfAbsent(node(m.address()), m));
        String selfNode = node(self);
        List<Object> out = new ArrayList<>();
        members.forEach((node, m) -> out.add(member(node, status(m), !unreachable.contains(m), node.equals(selfNode),
                m.getRoles().stream().sorted().toList(), load.of(node))));
        load.nodes().forEach((node, running) -> {
            if (!members.containsKey(node)) {
                out.add(member(node, "removed", false, false, List.of(), running));
            }
        });
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("self", selfNode);
        doc.put("leader", state.getLeader() == null ? null : node(state.getLeader()));
        doc.put("members", out);
        doc.put("waiting_jobs", load.waitingJobs());
        return doc;
    }

    private static Map<String, Object> member(String node, String status, boolean reachable, boolean self,
                                              List<String> roles, ClusterLoad.NodeLoad running) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("node", node);
        m.put("status", status);
        m.put("reachable", reachable);
        m.put("self", self);
        m.put("roles", roles);
        m.put("running_jobs", running.runningJobs());
        m.put("running_disks", running.runningDisks());
        return m;
    }

    /** Pekko's member status in the API's words: Up -> up, WeaklyUp -> weakly-up, ... */
    private static String status(Member m) {
        return m.status().toString().replaceAll("([a-z])([A-Z])", "$1-$2").toLowerCase(Locale.ROOT);
    }
}
