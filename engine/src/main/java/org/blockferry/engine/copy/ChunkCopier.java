package org.blockferry.engine.copy;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.blockferry.engine.plan.Chunk;
import org.blockferry.engine.plan.Extent;
import org.blockferry.nbd.NbdBuffer;

/**
 * Copies one chunk: read, zero-detect, write — per request-sized piece, so that each piece is
 * written as soon as it is read instead of waiting for the whole chunk. The chunk's DATA
 * extents are read into one pooled buffer, back to back, and written from it (no copy); ZERO
 * and HOLE extents are never read. The chunk completes when every piece is on the target.
 */
final class ChunkCopier {
    private final CopyConnections connections;
    private final BufferPool.Window window;
    private final ZeroDetector detector;
    private final ChunkWriter writer;
    private final RunResources run;
    private final int requestSize;
    private final RequestRetries retries;

    ChunkCopier(CopyConnections connections, BufferPool.Window window, ZeroDetector detector, ChunkWriter writer,
                RunResources run, int requestSize, RequestRetries retries) {
        this.connections = connections;
        this.window = window;
        this.detector = detector;
        this.writer = writer;
        this.run = run;
        this.requestSize = requestSize;
        this.retries = retries;
    }

    CompletableFuture<ChunkWriter.Done> copy(Chunk chunk) {
        if (chunk.dataBytes() == 0) {
            return run.start(null, () -> send(chunk, null));
        }
        return window.acquire().thenCompose(lease -> run.start(lease, () -> send(chunk, lease.buffer()))
                .whenComplete((done, failure) -> run.release(lease)));
    }

    private CompletableFuture<ChunkWriter.Done> send(Chunk chunk, NbdBuffer buffer) {
        List<CompletableFuture<ChunkWriter.Tally>> parts = new ArrayList<>();
        ByteBuffer view = buffer == null ? null : buffer.slice(0, (int) chunk.dataBytes());
        int at = 0;
        for (Extent e : chunk.extents()) {
            if (!e.kind().mustRead()) {
                parts.add(writer.send(List.of(ZeroDetector.hole(e)), null));
                continue;
            }
            long offset = e.offset();
            long end = e.end();
            while (offset < end) {
                int length = (int) Math.min(end - offset, RequestSplitter.nextBoundary(offset, requestSize) - offset);
                int pieceAt = at;
                long pieceOffset = offset;
                // The write follows on the I/O thread that completed the read.
                parts.add(retries.run(() -> connections.nextSource().pread(buffer, pieceAt, length, pieceOffset))
                        .thenCompose(v -> writer.send(detector.classify(view, pieceAt, pieceOffset, length), buffer)));
                at += length;
                offset += length;
            }
        }
        return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new)).thenApply(v -> {
            ChunkWriter.Tally total = ChunkWriter.Tally.NONE;
            for (CompletableFuture<ChunkWriter.Tally> p : parts) {
                total = total.plus(p.join());
            }
            return new ChunkWriter.Done(chunk, total.written(), total.zeroed(), total.skipped(), total.zeroSent());
        });
    }
}
