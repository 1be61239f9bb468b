package org.blockferry.engine.actor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.blockferry.engine.CborSerializable;

/**
 * A {@link TargetActor}'s state: its lease (held by one writer, or by readers; never both) with
 * the jobs waiting for it in FIFO order, and its lineage (the last completed change token per
 * source that fed it). Immutable.
 *
 * @param holders the jobs that hold the lease now and how; all READ, or one WRITE
 * @param waiting the jobs waiting, oldest first
 * @param lineage source identity to the token of the last completed copy from it
 * @param volume  for a CloudStack target: the volume BlockFerry created for it, null before (and after its deletion)
 */
public record TargetState(Map<String, Role> holders, List<Claim> waiting, Map<String, String> lineage,
                          Volume volume) implements CborSerializable {

    public TargetState(Map<String, Role> holders, List<Claim> waiting, Map<String, String> lineage) {
        this(holders, waiting, lineage, null);
    }

    /**
     * The CloudStack volume behind a target: its id, the job that created it and the VM
     * BlockFerry attached it to (a node's appliance; null while detached). The only volumes
     * BlockFerry ever attaches, detaches or deletes are the ones recorded here.
     */
    public record Volume(String id, String createdBy, String attachedTo, String handedTo)
            implements CborSerializable {
        public Volume(String id, String createdBy, String attachedTo) {
            this(id, createdBy, attachedTo, null);
        }
    }

    /** What a writer did to the target's volume. */
    @com.fasterxml.jackson.annotation.JsonTypeInfo(use = com.fasterxml.jackson.annotation.JsonTypeInfo.Id.NAME)
    @com.fasterxml.jackson.annotation.JsonSubTypes({
        @com.fasterxml.jackson.annotation.JsonSubTypes.Type(value = VolumeCreated.class, name = "created"),
        @com.fasterxml.jackson.annotation.JsonSubTypes.Type(value = VolumeAttached.class, name = "attached"),
        @com.fasterxml.jackson.annotation.JsonSubTypes.Type(value = VolumeDetached.class, name = "detached"),
        @com.fasterxml.jackson.annotation.JsonSubTypes.Type(value = VolumeDeleted.class, name = "deleted"),
        @com.fasterxml.jackson.annotation.JsonSubTypes.Type(value = VolumeHandedOver.class, name = "handed-over")})
    public sealed interface VolumeChange extends CborSerializable {
    }

    /** Created for this target: a new incarnation, so no earlier token is valid for it. */
    public record VolumeCreated(String volumeId) implements VolumeChange {
    }

    public record VolumeAttached(String vmId) implements VolumeChange {
    }

    public record VolumeDetached() implements VolumeChange {
    }

    /**
     * Attached to the VM the cutover made of it: the migrated VM's disk from now on, which
     * BlockFerry never writes, detaches or deletes again.
     */
    public record VolumeHandedOver(String vmId) implements VolumeChange {
    }

    /** Deleted: the target has no volume and no lineage. */
    public record VolumeDeleted() implements VolumeChange {
    }

    /** What a job does with the location. */
    public enum Role { READ, WRITE }

    /** A job's claim on the lease: as a reader, or as a writer fed from {@code source}. */
    public record Claim(String jobId, Role role, String source) implements CborSerializable {
    }

    public static final TargetState EMPTY = new TargetState(Map.of(), List.of(), Map.of());

    /** The job that writes the location now, if any. */
    public Optional<String> writer() {
        return holders.entrySet().stream().filter(e -> e.getValue() == Role.WRITE).map(Map.Entry::getKey)
                .findFirst();
    }

    /** Whether {@code jobId} holds the lease (in any role) or waits for it. */
    public boolean knows(String jobId) {
        return holders.containsKey(jobId) || waiting.stream().anyMatch(c -> c.jobId().equals(jobId));
    }

    public boolean holds(String jobId, Role role) {
        return holders.get(jobId) == role;
    }

    /** Another job that holds or waits for the lease in the role opposite to {@code role}. */
    public Optional<Claim> opposite(String jobId, Role role) {
        Optional<Claim> holding = holders.entrySet().stream()
                .filter(e -> !e.getKey().equals(jobId) && e.getValue() != role)
                .map(e -> new Claim(e.getKey(), e.getValue(), null)).findFirst();
        return holding.isPresent() ? holding : waiting.stream()
                .filter(c -> !c.jobId().equals(jobId) && c.role() != role).findFirst();
    }

    /** Whether {@code claim} may hold the lease now: it is next in line and compatible with the holders. */
    public boolean grantable(Claim claim) {
        boolean first = waiting.isEmpty() || waiting.get(0).jobId().equals(claim.jobId());
        boolean compatible = claim.role() == Role.READ ? writer().isEmpty() : holders.isEmpty();
        return first && compatible;
    }

    /** The claims to grant after a release: the next writer alone, or the readers at the head of the line. */
    public List<Claim> nextToGrant() {
        List<Claim> out = new ArrayList<>();
        TargetState s = this;
        while (!s.waiting.isEmpty() && s.grantable(s.waiting.get(0))) {
            Claim next = s.waiting.get(0);
            out.add(next);
            s = s.granted(next);
        }
        return out;
    }

    TargetState queued(Claim claim) {
        List<Claim> w = new ArrayList<>(waiting);
        w.add(claim);
        return new TargetState(holders, List.copyOf(w), lineage, volume);
    }

    /**
     * {@code claim} holds the lease now. A writer fed from one source overwrites what the others
     * left: their tokens go (a later sync from them must be full).
     */
    TargetState granted(Claim claim) {
        Map<String, Role> h = new LinkedHashMap<>(holders);
        h.put(claim.jobId(), claim.role());
        List<Claim> w = new ArrayList<>(waiting);
        w.removeIf(c -> c.jobId().equals(claim.jobId()));
        Map<String, String> l = lineage;
        if (claim.role() == Role.WRITE) {
            Map<String, String> kept = new LinkedHashMap<>(lineage);
            kept.keySet().removeIf(s -> !s.equals(claim.source()));
            l = Collections.unmodifiableMap(kept);
        }
        return new TargetState(Collections.unmodifiableMap(h), List.copyOf(w), l, volume);
    }

    TargetState released(String jobId) {
        Map<String, Role> h = new LinkedHashMap<>(holders);
        h.remove(jobId);
        List<Claim> w = new ArrayList<>(waiting);
        w.removeIf(c -> c.jobId().equals(jobId));
        return new TargetState(Collections.unmodifiableMap(h), List.copyOf(w), lineage, volume);
    }

    TargetState recorded(String source, String token) {
        Map<String, String> l = new LinkedHashMap<>(lineage);
        if (token == null) {
            l.remove(source);
        } else {
            l.put(source, token);
        }
        return new TargetState(holders, waiting, Collections.unmodifiableMap(l), volume);
    }

    TargetState volumeChanged(String jobId, VolumeChange change) {
        if (change instanceof VolumeCreated c) {
            return new TargetState(holders, waiting, Map.of(), new Volume(c.volumeId(), jobId, null));
        }
        if (volume == null) {
            return this;
        }
        if (change instanceof VolumeAttached a) {
            return new TargetState(holders, waiting, lineage, new Volume(volume.id(), volume.createdBy(), a.vmId()));
        }
        if (change instanceof VolumeDetached) {
            return new TargetState(holders, waiting, lineage, new Volume(volume.id(), volume.createdBy(), null));
        }
        if (change instanceof VolumeHandedOver h) {
            return new TargetState(holders, waiting, lineage, new Volume(volume.id(), volume.createdBy(), null,
                    h.vmId()));
        }
        return new TargetState(holders, waiting, Map.of(), null);
    }
}
