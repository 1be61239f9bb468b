package org.blockferry.engine.source.vmware;

import java.io.IOException;
import org.apache.pekko.actor.typed.ActorSystem;
import org.blockferry.engine.endpoint.LocalExport;
import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.source.DiskSource;
import org.blockferry.engine.source.SourceRequest;

/**
 * This node's way to vSphere disks: opens one disk of a job's snapshot for one sync (see
 * {@link VmwareSync}) with the node's {@code blockferry.vmware} settings, on the vCenter the node
 * knows by the job's {@code source.vcenter}. The snapshots the node's jobs share live in one
 * actor per actor system, started with the first disk opened.
 */
public final class VmwareSources {
    private final ActorSystem<?> system;
    private final VmwareSettings settings;
    private final LocalExport.Tools tools;

    public VmwareSources(ActorSystem<?> system, VmwareSettings settings, LocalExport.Tools tools) {
        this.system = system;
        this.settings = settings;
        this.tools = tools;
    }

    public VmwareSettings settings() {
        return settings;
    }

    /**
     * Refuses, naming {@code source.vcenter}, a vmware source that names no vCenter of this node
     * (listing the names configured): a job is checked when it is submitted.
     */
    public void checkVcenter(JobSpec.Source source) {
        settings.vcenters().named(source.vcenter());
    }

    /**
     * Opens the disk of {@code request} (a {@code vmware} job). Blocks on vCenter calls (a final
     * sync's guest shutdown takes minutes): call it from a thread that may block, not an actor's.
     * Closing the source releases the job's snapshot, and may block on vCenter too.
     */
    public DiskSource open(SourceRequest request) throws IOException {
        return VmwareSync.open(request, tools, settings, JobSnapshotLeases.of(system));
    }
}
