package org.blockferry.engine.copy;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import java.util.concurrent.CompletableFuture;
import org.blockferry.engine.plan.Chunk;
import org.blockferry.nbd.AsyncConnection;
import org.blockferry.nbd.NbdBuffer;

/**
 * Executes target operations: data as writes from the chunk's buffer (no copy), zero ranges as
 * NBD zero — except where the target already reads as zero, where nothing is sent. A target
 * that cannot zero gets writes from a shared zero buffer.
 */
final class ChunkWriter {
    /** NBD lengths are 32-bit; zero requests stay well below that and aligned. */
    static final long MAX_ZERO_REQUEST = 1L << 30;

    private final CopyConnections connections;
    private final TargetZeroMap alreadyZero;
    private final int requestSize;
    private final boolean targetCanZero;
    private final NbdBuffer zeroBuffer;
    private final WriteFence fence;
    private final RequestRetries retries;

    /** A chunk that is on the target, with what it cost. {@code zeroSent} counts bytes sent as NBD zero. */
    record Done(Chunk chunk, long written, long zeroed, long skipped, long zeroSent) {
    }

    /** What a set of operations cost: bytes written as data, zeroed (planned), skipped (holes), sent as zero. */
    record Tally(long written, long zeroed, long skipped, long zeroSent) {
        static final Tally NONE = new Tally(0, 0, 0, 0);

        Tally plus(Tally o) {
            return new Tally(written + o.written, zeroed + o.zeroed, skipped + o.skipped, zeroSent + o.zeroSent);
        }
    }

    ChunkWriter(CopyConnections connections, TargetZeroMap alreadyZero, int requestSize, RequestRetries retries,
                WriteFence fence) {
        this.retries = retries;
        this.fence = fence;
        this.connections = connections;
        this.alreadyZero = alreadyZero;
        this.requestSize = requestSize;
        this.targetCanZero = connections.targets().get(0).connection().canZero();
        // Direct memory starts zeroed; shared by every zero write (requests only read it).
        this.zeroBuffer = targetCanZero ? null : NbdBuffer.allocate(requestSize);
    }

    /**
     * Sends {@code ops} to the target ({@code buffer} holds their data); completes when every
     * request has completed.
     */
    CompletableFuture<Tally> send(List<ZeroDetector.Op> ops, NbdBuffer buffer) {
        List<CompletableFuture<Void>> requests = new ArrayList<>();
        long written = 0;
        long zeroed = 0;
        long skipped = 0;
        long[] zeroSent = {0};
        for (ZeroDetector.Op op : ops) {
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
        Tally tally = new Tally(written, zeroed, skipped, zeroSent[0]);
        if (requests.isEmpty()) {
            return CompletableFuture.completedFuture(tally);
        }
        return CompletableFuture.allOf(requests.toArray(CompletableFuture[]::new)).thenApply(v -> tally);
    }

    private void writeData(NbdBuffer buffer, ZeroDetector.Op op, List<CompletableFuture<Void>> requests) {
        long offset = op.offset();
        long end = op.end();
        int at = op.bufferOffset();
        while (offset < end) {
            int length = (int) Math.min(end - offset, RequestSplitter.nextBoundary(offset, requestSize) - offset);
            int from = at;
            long to = offset;
            requests.add(retries.run(fenced(() -> connections.nextTarget().pwrite(buffer, from, length, to, 0))));
            at += length;
            offset += length;
        }
    }

    private void zero(long offset, long length, List<CompletableFuture<Void>> requests) {
        long end = offset + length;
        long piece = targetCanZero ? MAX_ZERO_REQUEST : requestSize;
        while (offset < end) {
            long n = Math.min(end - offset, RequestSplitter.nextBoundary(offset, piece) - offset);
            long at = offset;
            long count = n;
            requests.add(retries.run(fenced(() -> {
                AsyncConnection target = connections.nextTarget();
                return targetCanZero ? target.zero(count, at, 0) : target.pwrite(zeroBuffer, 0, (int) count, at, 0);
            })));
            offset += n;
        }
    }

    /** {@code request}, issued only if the fence is open at that moment (each retry checks again). */
    private Supplier<CompletableFuture<Void>> fenced(Supplier<CompletableFuture<Void>> request) {
        return () -> {
            try {
                fence.check();
            } catch (WriteFence.Closed closed) {
                return CompletableFuture.failedFuture(closed);
            }
            return request.get();
        };
    }

    /** After the connections are closed. */
    void close() {
        if (zeroBuffer != null) {
            zeroBuffer.close();
        }
    }
}
