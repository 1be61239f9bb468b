package org.blockferry.engine.actor;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeMap;
import org.apache.pekko.actor.typed.ActorRef;
import org.blockferry.engine.actor.TargetState.Role;
import org.blockferry.engine.job.DiskState;
import org.blockferry.engine.job.JobState.DiskIdentities;
import org.blockferry.engine.job.JobState;

/**
 * What a job claims before its disks start: the leases of its locations — write on each target,
 * read on each source, one location at a time in the order of their identities (the same order
 * for every job, so two jobs that want the same locations cannot each hold one the other waits
 * for) — then a running slot of its node. In memory only: after a restart the job claims again,
 * and a location (or the slots) answers "granted" to the job it already granted.
 */
final class JobClaims {

    /** One location the job uses, and how: its entity id, its identity, the role, the source a writer copies from. */
    private record Use(String entityId, String identity, Role role, String source) {
    }

    private final String jobId;
    private final JobPeers peers;
    private final ActorRef<JobActor.Command> job;
    private final List<Use> uses = new ArrayList<>();
    private final Set<String> held = new HashSet<>();
    private boolean slotRequested;
    private int disksToCopy = 1;

    JobClaims(String jobId, JobPeers peers, ActorRef<JobActor.Command> job) {
        this.jobId = jobId;
        this.peers = peers;
        this.job = job;
    }

    /** Claims the first lease not held yet, or the slot once every lease is held. */
    void start(JobState state) {
        uses.clear();
        held.clear();
        slotRequested = false;
        uses.addAll(usesOf(state));
        disksToCopy = (int) Math.max(1, state.disks().values().stream().filter(d -> !d.status().isFinal()).count());
        claimNext();
    }

    /** {@code location} granted its lease: the next one, or the slot. */
    void granted(String location) {
        if (uses.stream().noneMatch(u -> u.entityId().equals(location))) {
            return; // not a lease of this run (an answer to an ask from before a restart)
        }
        held.add(location);
        claimNext();
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

    /** The job ended: its slot and every lease go back, held or waited for. */
    void releaseAll(JobState state) {
        peers.slots().tell(new RunSlots.Release(jobId));
        for (Use u : usesOf(state)) {
            peers.location(u.identity()).tell(new TargetActor.Release(jobId));
        }
        held.clear();
        slotRequested = false;
    }

    /**
     * Claims again the first lease not held yet: a claim, its answer, or the release of the job
     * that held it is lost when the node that hosts the location dies, and the location answers a
     * claim it already granted or queued as it did the first time. False when every lease is held.
     */
    boolean again() {
        for (Use u : uses) {
            if (!held.contains(u.entityId())) {
                peers.location(u.identity()).tell(new TargetActor.Acquire(jobId, u.role(), u.source()));
                return true;
            }
        }
        return false;
    }

    /**
     * The location answered that {@code holder} holds its lease: that job is woken, and gives its
     * leases back again if it has ended (its release may have been lost with a node).
     */
    void remind(String holder) {
        if (holder != null && !holder.equals(jobId)) {
            peers.job(holder).tell(JobActor.Resume.INSTANCE);
        }
    }

    private void claimNext() {
        if (again()) {
            return;
        }
        if (!slotRequested && !uses.isEmpty()) {
            slotRequested = true;
            peers.slots().tell(new RunSlots.Request(jobId, job, disksToCopy));
        }
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
