package org.blockferry.engine.source;

import org.blockferry.engine.plan.CopyMode;
import org.blockferry.nbd.NbdOptions;

/**
 * A source with change tracking (a qcow2 bitmap, VMware CBT) that reads its data through a
 * plain NBD source, its {@code transport}: the transport says where and how to connect, this
 * class adds the mode decided for the sync. Closing it closes the transport.
 */
public abstract class TrackedDiskSource implements DiskSource {
    private final DiskSource transport;
    private final ModeDecision.Decision decision;

    protected TrackedDiskSource(DiskSource transport, ModeDecision.Decision decision) {
        this.transport = transport;
        this.decision = decision;
    }

    protected ModeDecision.Decision decision() {
        return decision;
    }

    @Override
    public String describe() {
        return transport.describe();
    }

    @Override
    public String uri() {
        return transport.uri();
    }

    @Override
    public NbdOptions options() {
        return transport.options();
    }

    @Override
    public CopyMode mode() {
        return decision.mode();
    }

    @Override
    public String modeReason() {
        return decision.modeReason();
    }

    @Override
    public void close() {
        transport.close();
    }
}
