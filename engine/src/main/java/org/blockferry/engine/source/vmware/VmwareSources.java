package org.blockferry.engine.source.vmware;

import java.io.IOException;
import org.apache.pekko.actor.typed.ActorSystem;
import org.blockferry.engine.endpoint.LocalExport;
import org.blockferry.engine.source.DiskSource;
import org.blockferry.engine.source.SourceRequest;

/**
 * This node's way to vSphere disks: opens one disk of a job's snapshot for one sync (see
 * {@link VmwareSync}) with the node's {@code blockferry.vmware} settings. The snapshots the
 * node's jobs share live in one actor per actor system, started with the first disk opened.
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
     * Opens the disk of {@code request} (a {@code vmware} job). Blocks on vCenter calls (a final
     * sync's guest shutdown takes minutes): call it from a thread that may block, not an actor's.
     * Closing the source releases the job's snapshot, and may block on vCenter too.
     */
    public DiskSource open(SourceRequest request) throws IOException {
        return VmwareSync.open(request, tools, settings, JobSnapshotLeases.of(system));
    }
}
