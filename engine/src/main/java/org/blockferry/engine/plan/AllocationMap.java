package org.blockferry.engine.plan;

import java.util.ArrayList;
import java.util.List;
import org.blockferry.nbd.NbdConnection;
import org.blockferry.nbd.NbdException;
import org.blockferry.nbd.NbdExtent;

/**
 * Reads a meta context's block status over a whole range: {@code base:allocation} turned into
 * DATA / ZERO / HOLE extents, or any context's raw extents.
 */
public final class AllocationMap {
    private AllocationMap() {
    }

    /**
     * The allocation of {@code [0, size)}. A server that did not agree to
     * {@code base:allocation} is treated as all data.
     */
    public static List<Extent> read(NbdConnection connection, long size) throws NbdException {
        List<Extent> out = new ArrayList<>();
        if (size == 0) {
            return out;
        }
        if (!connection.canMetaContext(NbdConnection.BASE_ALLOCATION)) {
            out.add(new Extent(0, size, ExtentKind.DATA));
            return out;
        }
        for (NbdExtent e : rawExtents(connection, NbdConnection.BASE_ALLOCATION, 0, size)) {
            ExtentKind kind = e.isZero() ? (e.isHole() ? ExtentKind.HOLE : ExtentKind.ZERO) : ExtentKind.DATA;
            Extent extent = new Extent(e.offset(), e.length(), kind);
            Extent last = out.isEmpty() ? null : out.get(out.size() - 1);
            if (last != null && last.kind() == kind && last.end() == extent.offset()) {
                out.set(out.size() - 1, new Extent(last.offset(), last.length() + extent.length(), kind));
            } else {
                out.add(extent);
            }
        }
        return out;
    }

    /** Every extent of {@code context} over {@code [from, to)}, asking again until covered. */
    public static List<NbdExtent> rawExtents(NbdConnection connection, String context, long from, long to)
            throws NbdException {
        List<NbdExtent> all = new ArrayList<>();
        long offset = from;
        while (offset < to) {
            List<NbdExtent> part = connection.blockStatus(context, offset, to - offset);
            if (part.isEmpty()) {
                throw new NbdException("nbd_block_status", "the server described no extent at offset " + offset
                        + " for " + context, 0);
            }
            all.addAll(part);
            offset = part.get(part.size() - 1).end();
        }
        return all;
    }
}
