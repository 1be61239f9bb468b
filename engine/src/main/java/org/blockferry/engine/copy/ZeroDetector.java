package org.blockferry.engine.copy;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.blockferry.engine.plan.Extent;

/**
 * Turns a filled chunk into target operations: DATA extents are scanned in segments (aligned
 * to the segment size on the disk) and all-zero segments become zero ranges, so a chunk that is
 * half zeros writes only its data half. ZERO and HOLE extents become zero ranges as they are.
 * Adjacent ranges of one kind are merged. The scan compares in place against a zero page:
 * no copy of the data.
 */
final class ZeroDetector {
    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(1 << 20).asReadOnlyBuffer();

    private final int segment;

    ZeroDetector(int segment) {
        if (segment > ZEROS.capacity()) {
            throw new IllegalArgumentException("zero segment larger than 1 MiB: " + segment);
        }
        this.segment = segment;
    }

    /**
     * One target operation. {@code bufferOffset} is -1 for a zero range; {@code fromHole} marks
     * ranges the source reported as zero or hole (counted as skipped, not as planned bytes).
     */
    record Op(long offset, long length, int bufferOffset, boolean fromHole) {
        boolean isData() {
            return bufferOffset >= 0;
        }

        long end() {
            return offset + length;
        }
    }

    /** The target operation for a ZERO or HOLE extent of the source: zero it, never read it. */
    static Op hole(Extent e) {
        return new Op(e.offset(), e.length(), -1, true);
    }

    /**
     * Splits one piece just read — {@code length} bytes for disk offset {@code offset}, at
     * {@code at} in {@code data} — into data and zero ranges.
     */
    List<Op> classify(ByteBuffer data, int at, long offset, int length) {
        List<Op> ops = new ArrayList<>(2);
        long end = offset + length;
        while (offset < end) {
            long segmentEnd = Math.min(end, RequestSplitter.nextBoundary(offset, segment));
            int n = (int) (segmentEnd - offset);
            add(ops, new Op(offset, n, isZero(data, at, n) ? -1 : at, false));
            at += n;
            offset = segmentEnd;
        }
        return ops;
    }

    private static void add(List<Op> ops, Op op) {
        if (!ops.isEmpty()) {
            Op last = ops.get(ops.size() - 1);
            boolean contiguous = last.end() == op.offset() && last.fromHole() == op.fromHole();
            if (contiguous && last.isData() && op.isData() && last.bufferOffset() + last.length() == op.bufferOffset()) {
                ops.set(ops.size() - 1, new Op(last.offset(), last.length() + op.length(), last.bufferOffset(), false));
                return;
            }
            if (contiguous && !last.isData() && !op.isData()) {
                ops.set(ops.size() - 1, new Op(last.offset(), last.length() + op.length(), -1, op.fromHole()));
                return;
            }
        }
        ops.add(op);
    }

    /** Whether {@code length} bytes of {@code data} from {@code at} are all zero (vectorized compare). */
    static boolean isZero(ByteBuffer data, int at, int length) {
        return firstNonZero(data, at, length) < 0;
    }

    /** Index (from {@code at}) of the first non-zero byte in {@code data[at, at + length)}, or -1. */
    static int firstNonZero(ByteBuffer data, int at, int length) {
        int done = 0;
        while (done < length) {
            int n = Math.min(length - done, ZEROS.capacity());
            int mismatch = data.slice(at + done, n).mismatch(ZEROS.slice(0, n));
            if (mismatch >= 0) {
                return done + mismatch;
            }
            done += n;
        }
        return -1;
    }
}
