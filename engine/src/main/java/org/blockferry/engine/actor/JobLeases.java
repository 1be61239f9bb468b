package org.blockferry.engine.actor;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeMap;
import org.blockferry.engine.actor.TargetState.Role;
import org.blockferry.engine.job.DiskState;
import org.blockferry.engine.job.JobState;
import org.blockferry.engine.job.JobState.DiskIdentities;

/**
 * The leases a job takes before its disks start: write on each target, read on each source, one
 * location at a time in the order of their identities (the same order for every job, so two
 * jobs that want the same locations cannot each hold one the other waits for). In memory only:
 * after a restart the job asks again, and a location answers "granted" to the job it already
 * granted.
 */
final class JobLeases {

    /** One location the job uses, and how: its entity id, its identity, the role, the source a writer copies from. */
    private record Use(String entityId, String identity, Role role, String source) {
    }

    private final String jobId;
    private final JobPeers peers;
    private final List<Use> uses = new ArrayList<>();
    private final Set<String> held = new HashSet<>();

    JobLeases(String jobId, JobPeers peers) {
        this.jobId = jobId;
        this.peers = peers;
    }

    /** Asks for the first lease not held yet; true when every lease is held already. */
    boolean start(JobState state) {
        uses.clear();
        held.clear();
        uses.addAll(usesOf(state));
        return askNext();
    }

    /** {@code location} granted the lease; true when every lease is held now. */
    boolean granted(String location) {
        if (uses.stream().noneMatch(u -> u.entityId().equals(location))) {
            return false; // not a lease of this run (an answer to an ask from before a restart)
        }
        held.add(location);
        return askNext();
    }

    /** What the job waits for, as the operator reads it. */
    String queued(String location, String holder) {
        String what = uses.stream().filter(u -> u.entityId().equals(location)).findFirst()
                .map(u -> (u.role() == Role.WRITE ? "target " : "source ") + u.identity()).orElse(location);
        return "waits for " + what + (holder == null ? "" : ", used by job " + holder);
    }

    boolean allHeld() {
        return !uses.isEmpty() && held.size() == uses.size();
    }

    /** Gives every lease of the job back, held or waited for. */
    void releaseAll(JobState state) {
        for (Use u : usesOf(state)) {
            peers.location(u.identity()).tell(new TargetActor.Release(jobId));
        }
        held.clear();
    }

    private boolean askNext() {
        for (Use u : uses) {
            if (!held.contains(u.entityId())) {
                peers.location(u.identity()).tell(new TargetActor.Acquire(jobId, u.role(), u.source()));
                return false;
            }
        }
        return true;
    }

    private static List<Use> usesOf(JobState state) {
        if (state.spec() == null) {
            return List.of();
        }
        TreeMap<String, Use> byIdentity = new TreeMap<>();
        for (DiskState d : state.disks().values()) {
            DiskIdentities ids = d.identities() != null ? d.identities()
                    : LocationIdentities.of(state.spec(), d.id());
            byIdentity.put(ids.target(), new Use(TargetActor.entityId(ids.target()), ids.target(), Role.WRITE,
                    ids.source()));
            byIdentity.putIfAbsent(ids.source(), new Use(TargetActor.entityId(ids.source()), ids.source(), Role.READ,
                    null));
        }
        return List.copyOf(byIdentity.values());
    }
}
