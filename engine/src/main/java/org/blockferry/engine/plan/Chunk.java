package org.blockferry.engine.plan;

import java.util.List;

/**
 * The unit that flows through the copy pipeline: the planned extents of the window
 * {@code [start, end)}, holding at most one chunk size of data (one pooled buffer).
 *
 * @param index position in the plan, from 0
 * @param dataBytes the bytes of the DATA extents, laid out back to back in the chunk's buffer
 */
public record Chunk(long index, long start, long end, List<Extent> extents, long dataBytes) {
    public Chunk {
        extents = List.copyOf(extents);
    }

    /** Bytes of ZERO and HOLE extents: never read. */
    public long skippedBytes() {
        long total = 0;
        for (Extent e : extents) {
            if (!e.kind().mustRead()) {
                total += e.length();
            }
        }
        return total;
    }
}
