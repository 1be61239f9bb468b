package org.blockferry.engine.copy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.blockferry.engine.plan.Chunk;
import org.blockferry.nbd.AsyncConnection;
import org.blockferry.nbd.NbdBuffer;

/**
 * Executes a chunk's target operations: data as writes from the chunk's buffer (no copy),
 * zero ranges as NBD zero — except where the target already reads as zero, where nothing is
 * sent. A target that cannot zero gets writes from a shared zero buffer. The chunk's buffer
 * goes back to the pool when every request has completed.
 */
final class ChunkWriter {
    /** NBD lengths are 32-bit; zero requests stay well below that and aligned. */
    static final long MAX_ZERO_REQUEST = 1L << 30;

    private final CopyConnections connections;
    private final TargetZeroMap alreadyZero;
    private final RunResources run;
    private final int requestSize;
    private final boolean targetCanZero;
    private NbdBuffer zeroBuffer;

    /** A chunk that is on the target, with what it cost. {@code zeroSent} counts bytes sent as NBD zero. */
    record Done(Chunk chunk, long written, long zeroed, long skipped, long zeroSent) {
    }

    ChunkWriter(CopyConnections connections, TargetZeroMap alreadyZero, RunResources run, int requestSize) {
        this.connections = connections;
        this.alreadyZero = alreadyZero;
        this.run = run;
        this.requestSize = requestSize;
        this.targetCanZero = connections.targets().get(0).connection().canZero();
    }

    CompletableFuture<Done> write(ZeroDetector.Plan plan) {
        List<CompletableFuture<Void>> requests = new ArrayList<>();
        long written = 0;
        long zeroed = 0;
        long skipped = 0;
        long[] zeroSent = {0};
        NbdBuffer buffer = plan.lease() == null ? null : plan.lease().buffer();
        for (ZeroDetector.Op op : plan.ops()) {
            if (op.isData()) {
                writeData(buffer, op, requests);
                written += op.length();
                continue;
            }
            if (op.fromHole()) {
                skipped += op.length();
            } else {
                zeroed += op.length();
            }
            alreadyZero.forEachNonZero(op.offset(), op.length(), (offset, length) -> {
                zeroSent[0] += length;
                zero(offset, length, requests);
            });
        }
        Done done = new Done(plan.chunk(), written, zeroed, skipped, zeroSent[0]);
        CompletableFuture<Void> all = run.track(CompletableFuture.allOf(requests.toArray(CompletableFuture[]::new)));
        return all.whenComplete((v, e) -> {
            if (plan.lease() != null) {
                run.release(plan.lease());
            }
        }).thenApply(v -> done);
    }

    private void writeData(NbdBuffer buffer, ZeroDetector.Op op, List<CompletableFuture<Void>> requests) {
        long offset = op.offset();
        long end = op.end();
        int at = op.bufferOffset();
        while (offset < end) {
            int length = (int) Math.min(end - offset, RequestSplitter.nextBoundary(offset, requestSize) - offset);
            requests.add(connections.nextTarget().pwrite(buffer, at, length, offset, 0));
            at += length;
            offset += length;
        }
    }

    private void zero(long offset, long length, List<CompletableFuture<Void>> requests) {
        long end = offset + length;
        long piece = targetCanZero ? MAX_ZERO_REQUEST : requestSize;
        while (offset < end) {
            long n = Math.min(end - offset, RequestSplitter.nextBoundary(offset, piece) - offset);
            AsyncConnection target = connections.nextTarget();
            requests.add(targetCanZero ? target.zero(n, offset, 0) : target.pwrite(zeroBuffer(), 0, (int) n, offset, 0));
            offset += n;
        }
    }

    private NbdBuffer zeroBuffer() {
        if (zeroBuffer == null) {
            zeroBuffer = NbdBuffer.allocate(requestSize); // direct memory starts zeroed
        }
        return zeroBuffer;
    }

    /** After the connections are closed. */
    void close() {
        if (zeroBuffer != null) {
            zeroBuffer.close();
        }
    }
}
