package org.blockferry.engine.actor;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import org.blockferry.engine.endpoint.DiskLocation;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.job.JobState.DiskIdentities;

/**
 * What a job's disks read and write, whatever the spelling: the identity of each source and
 * target ({@link DiskLocation#identity()}; for a vSphere disk, the vCenter, the VM and the disk).
 * Also the check that a job does not contradict itself.
 */
public final class LocationIdentities {
    private LocationIdentities() {
    }

    /** The identities of every disk of a validated spec, by disk id. */
    public static Map<String, DiskIdentities> of(JobSpec spec) {
        Map<String, DiskIdentities> out = new LinkedHashMap<>();
        for (JobSpec.Disk d : spec.disks()) {
            out.put(d.id(), of(spec, d.id()));
        }
        return out;
    }

    static DiskIdentities of(JobSpec spec, String diskId) {
        JobSpec.Disk d = spec.disks().stream().filter(x -> x.id().equals(diskId)).findFirst().orElseThrow();
        String source = "vmware".equals(spec.source().kind())
                ? "vmware:" + spec.source().vcenter() + "#" + spec.source().vm() + "#" + d.source()
                : DiskLocation.parse("source", d.source()).identity();
        return new DiskIdentities(source, DiskLocation.parse("target", d.target()).identity());
    }

    /**
     * Refuses, naming the field, a disk whose target is its own source, and two disks of one job
     * that write the same target or where one writes what another reads.
     */
    public static void checkDistinct(JobSpec spec, Map<String, DiskIdentities> identities) {
        Map<String, Integer> targets = new HashMap<>();
        Map<String, Integer> sources = new HashMap<>();
        for (int i = 0; i < spec.disks().size(); i++) {
            DiskIdentities ids = identities.get(spec.disks().get(i).id());
            sources.putIfAbsent(ids.source(), i);
        }
        for (int i = 0; i < spec.disks().size(); i++) {
            JobSpec.Disk d = spec.disks().get(i);
            DiskIdentities ids = identities.get(d.id());
            String field = "disks[" + i + "].target";
            if (ids.target().equals(ids.source())) {
                throw new InvalidInputException(field, "'" + d.target() + "' is the disk's own source ("
                        + ids.target() + ")");
            }
            Integer other = targets.putIfAbsent(ids.target(), i);
            if (other != null) {
                throw new InvalidInputException(field, "'" + d.target() + "' is the same target as disks[" + other
                        + "].target (" + ids.target() + ")");
            }
            Integer reader = sources.get(ids.target());
            if (reader != null) {
                throw new InvalidInputException(field, "'" + d.target() + "' is the source of disks[" + reader
                        + "] (" + ids.target() + ")");
            }
        }
    }
}
