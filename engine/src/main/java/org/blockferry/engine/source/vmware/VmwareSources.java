package org.blockferry.engine.source.vmware;

import java.io.IOException;
import org.blockferry.engine.endpoint.LocalExport;
import org.blockferry.engine.source.DiskSource;
import org.blockferry.engine.source.SourceRequest;

/**
 * This node's way to vSphere disks: opens one disk of a job's snapshot for one sync (see
 * {@link VmwareSync}) with the node's {@code blockferry.vmware} settings.
 */
public final class VmwareSources {
    private final VmwareSettings settings;
    private final LocalExport.Tools tools;

    public VmwareSources(org.apache.pekko.actor.typed.ActorSystem<?> system, VmwareSettings settings,
                         LocalExport.Tools tools) {
        this.settings = settings;
        this.tools = tools;
    }

    public VmwareSettings settings() {
        return settings;
    }

    /** Opens the disk of {@code request} (a {@code vmware} job); blocks on vCenter calls. */
    public DiskSource open(SourceRequest request) throws IOException {
        return VmwareSync.open(request, tools, settings);
    }
}
