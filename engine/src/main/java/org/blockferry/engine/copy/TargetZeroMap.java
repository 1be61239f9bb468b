package org.blockferry.engine.copy;

import java.util.ArrayList;
import java.util.List;
import org.blockferry.engine.plan.Extent;

/**
 * Where the target already reads as zeros (its block status, or "all of it" when the operator
 * says the target is zero). Zero writes inside these ranges are skipped.
 */
final class TargetZeroMap {
    private final long[] starts;
    private final long[] ends;

    private TargetZeroMap(long[] starts, long[] ends) {
        this.starts = starts;
        this.ends = ends;
    }

    static TargetZeroMap none() {
        return new TargetZeroMap(new long[0], new long[0]);
    }

    static TargetZeroMap all(long size) {
        return size == 0 ? none() : new TargetZeroMap(new long[] {0}, new long[] {size});
    }

    /** From the target's allocation extents: ZERO and HOLE ranges read as zeros. */
    static TargetZeroMap fromAllocation(List<Extent> extents) {
        List<long[]> ranges = new ArrayList<>();
        for (Extent e : extents) {
            if (!e.kind().mustRead()) {
                long[] last = ranges.isEmpty() ? null : ranges.get(ranges.size() - 1);
                if (last != null && last[1] == e.offset()) {
                    last[1] = e.end();
                } else {
                    ranges.add(new long[] {e.offset(), e.end()});
                }
            }
        }
        long[] s = new long[ranges.size()];
        long[] t = new long[ranges.size()];
        for (int i = 0; i < s.length; i++) {
            s[i] = ranges.get(i)[0];
            t[i] = ranges.get(i)[1];
        }
        return new TargetZeroMap(s, t);
    }

    boolean isEmpty() {
        return starts.length == 0;
    }

    long zeroBytes() {
        long total = 0;
        for (int i = 0; i < starts.length; i++) {
            total += ends[i] - starts[i];
        }
        return total;
    }

    /** Calls {@code sink} for each part of {@code [offset, offset + length)} NOT known to be zero. */
    void forEachNonZero(long offset, long length, RangeSink sink) {
        long end = offset + length;
        long pos = offset;
        int i = firstEndingAfter(pos);
        while (pos < end) {
            if (i >= starts.length || starts[i] >= end) {
                sink.accept(pos, end - pos);
                return;
            }
            if (starts[i] > pos) {
                sink.accept(pos, starts[i] - pos);
            }
            pos = Math.max(pos, ends[i]);
            i++;
        }
    }

    private int firstEndingAfter(long pos) {
        int lo = 0;
        int hi = starts.length;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (ends[mid] <= pos) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    @FunctionalInterface
    interface RangeSink {
        void accept(long offset, long length);
    }
}
