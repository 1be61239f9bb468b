package org.blockferry.engine.copy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.blockferry.engine.plan.Chunk;
import org.blockferry.engine.plan.Extent;
import org.blockferry.nbd.NbdBuffer;

/**
 * Reads a chunk's DATA extents into one pooled buffer, back to back, as many requests of at
 * most the request size, spread over the source connections and all in flight at once.
 * ZERO and HOLE extents are never read.
 */
final class ChunkReader {
    private final CopyConnections connections;
    private final BufferPool.Window window;
    private final RunResources run;
    private final int requestSize;

    /** A chunk whose data is in {@code lease}'s buffer (no lease when the chunk has no data). */
    record Filled(Chunk chunk, BufferPool.Lease lease) {
    }

    ChunkReader(CopyConnections connections, BufferPool.Window window, RunResources run, int requestSize) {
        this.connections = connections;
        this.window = window;
        this.run = run;
        this.requestSize = requestSize;
    }

    CompletableFuture<Filled> read(Chunk chunk) {
        if (chunk.dataBytes() == 0) {
            return CompletableFuture.completedFuture(new Filled(chunk, null));
        }
        return window.acquire().thenCompose(lease -> {
            run.adopt(lease);
            NbdBuffer buffer = lease.buffer();
            List<CompletableFuture<Void>> reads = new ArrayList<>();
            int at = 0;
            for (Extent e : chunk.extents()) {
                if (!e.kind().mustRead()) {
                    continue;
                }
                long offset = e.offset();
                long end = e.end();
                while (offset < end) {
                    int length = (int) Math.min(end - offset, RequestSplitter.nextBoundary(offset, requestSize) - offset);
                    reads.add(connections.nextSource().pread(buffer, at, length, offset));
                    at += length;
                    offset += length;
                }
            }
            return run.track(CompletableFuture.allOf(reads.toArray(CompletableFuture[]::new)))
                    .thenApply(v -> new Filled(chunk, lease));
        });
    }
}
