package org.blockferry.engine.plan;

import java.util.ArrayList;
import java.util.List;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.nbd.NbdConnection;
import org.blockferry.nbd.NbdException;
import org.blockferry.nbd.NbdExtent;

/**
 * The plan of an incremental copy: the ranges a dirty bitmap ({@code qemu:dirty-bitmap:NAME})
 * marks as changed, each classified by {@code base:allocation}: changed data is read and
 * written; changed ranges that now read as zeros (zero writes, discards) are zeroed on the
 * target and never read. Unchanged ranges are not in the plan at all.
 */
public final class DirtyBitmapPlan {
    private DirtyBitmapPlan() {
    }

    /** The dirty bitmap's meta context name. */
    public static String context(String bitmap) {
        return "qemu:dirty-bitmap:" + bitmap;
    }

    public static DiskPlan plan(NbdConnection connection, String bitmap, String field) throws NbdException {
        String context = context(bitmap);
        if (!connection.canMetaContext(context)) {
            throw new InvalidInputException(field, "the export offers no dirty bitmap '" + bitmap + "'");
        }
        long size = connection.size();
        List<Extent> out = new ArrayList<>();
        if (size == 0) {
            return DiskPlan.of(0, out);
        }
        boolean allocation = connection.canMetaContext(NbdConnection.BASE_ALLOCATION);
        for (long[] dirty : dirtyRanges(connection, context, size)) {
            if (!allocation) {
                out.add(new Extent(dirty[0], dirty[1] - dirty[0], ExtentKind.DATA));
                continue;
            }
            for (NbdExtent e : AllocationMap.rawExtents(connection, NbdConnection.BASE_ALLOCATION, dirty[0], dirty[1])) {
                long from = Math.max(e.offset(), dirty[0]);
                long to = Math.min(e.end(), dirty[1]);
                if (to <= from) {
                    continue;
                }
                ExtentKind kind = e.isZero() ? (e.isHole() ? ExtentKind.HOLE : ExtentKind.ZERO) : ExtentKind.DATA;
                out.add(new Extent(from, to - from, kind));
            }
        }
        return DiskPlan.of(size, out);
    }

    /** The dirty ranges, merged, as [start, end) pairs. */
    private static List<long[]> dirtyRanges(NbdConnection connection, String context, long size) throws NbdException {
        List<long[]> ranges = new ArrayList<>();
        for (NbdExtent e : AllocationMap.rawExtents(connection, context, 0, size)) {
            if ((e.flags() & NbdExtent.STATE_DIRTY) == 0) {
                continue;
            }
            long end = Math.min(e.end(), size);
            long[] last = ranges.isEmpty() ? null : ranges.get(ranges.size() - 1);
            if (last != null && last[1] == e.offset()) {
                last[1] = end;
            } else {
                ranges.add(new long[] {e.offset(), end});
            }
        }
        return ranges;
    }
}
