package org.blockferry.engine.source.vmware;

import java.io.IOException;
import java.util.List;
import java.util.Optional;
import org.blockferry.engine.plan.ChangedArea;
import org.blockferry.engine.plan.ChangedAreaPlan;
import org.blockferry.engine.plan.DiskPlan;
import org.blockferry.engine.source.ChangeToken;
import org.blockferry.engine.source.ModeDecision;
import org.blockferry.engine.source.TrackedDiskSource;
import org.blockferry.engine.source.nbd.NbdDiskSource;
import org.blockferry.nbd.NbdConnection;

/**
 * One disk of a vSphere VM's snapshot, for one sync: its data through {@code nbdkit vddk} (or a
 * datastore-mapped local image), its plan from the CBT areas vCenter reported, its token the
 * changeId the snapshot had. Closing it releases the job's snapshot (the last disk removes it).
 */
final class VmwareDiskSource extends TrackedDiskSource {
    private final List<ChangedArea> areas;
    private final String changeId;
    private final Runnable onCompleted;
    private final Runnable onClosed;

    VmwareDiskSource(NbdDiskSource transport, ModeDecision.Decision decision, List<ChangedArea> areas,
                     String changeId, Runnable onCompleted, Runnable onClosed) {
        super(transport, decision);
        this.areas = List.copyOf(areas);
        this.changeId = changeId;
        this.onCompleted = onCompleted;
        this.onClosed = onClosed;
    }

    @Override
    public DiskPlan plan(NbdConnection connection) throws IOException {
        return ChangedAreaPlan.of(connection.size(), areas, decision().full());
    }

    @Override
    public Optional<ChangeToken> changeToken(long capacity, String targetFingerprint) {
        return Optional.of(new ChangeToken(VmwareSync.KIND, changeId, capacity, targetFingerprint));
    }

    @Override
    public void completed() {
        onCompleted.run();
    }

    @Override
    public void close() {
        try {
            super.close();
        } finally {
            onClosed.run();
        }
    }
}
