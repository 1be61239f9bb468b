package org.blockferry.engine.plan;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;

/**
 * The extents one run must move for one disk, sorted and not overlapping. A full copy plans
 * the whole disk; an incremental copy only the changed ranges. Its DATA bytes are the run's
 * planned bytes (the progress total); ZERO and HOLE extents are zeroed on the target, never read.
 */
public final class DiskPlan {
    private final long capacity;
    private final List<Extent> extents;
    private final long plannedBytes;
    private final long skippedBytes;

    private DiskPlan(long capacity, List<Extent> extents) {
        this.capacity = capacity;
        this.extents = Collections.unmodifiableList(extents);
        long data = 0;
        long other = 0;
        for (Extent e : extents) {
            if (e.kind().mustRead()) {
                data += e.length();
            } else {
                other += e.length();
            }
        }
        this.plannedBytes = data;
        this.skippedBytes = other;
    }

    /**
     * A plan over a disk of {@code capacity} bytes. Extents must be sorted, inside the disk and
     * not overlapping; adjacent extents of the same kind are merged.
     */
    public static DiskPlan of(long capacity, List<Extent> extents) {
        if (capacity < 0) {
            throw new IllegalArgumentException("capacity must be >= 0, got " + capacity);
        }
        List<Extent> merged = new ArrayList<>(extents.size());
        long previousEnd = 0;
        for (Extent e : extents) {
            if (e.offset() < previousEnd) {
                throw new IllegalArgumentException("extents overlap or are unsorted at " + e);
            }
            if (e.end() > capacity) {
                throw new IllegalArgumentException("extent " + e + " ends beyond the disk (" + capacity + " bytes)");
            }
            Extent last = merged.isEmpty() ? null : merged.get(merged.size() - 1);
            if (last != null && last.end() == e.offset() && last.kind() == e.kind()) {
                merged.set(merged.size() - 1, new Extent(last.offset(), last.length() + e.length(), e.kind()));
            } else {
                merged.add(e);
            }
            previousEnd = e.end();
        }
        return new DiskPlan(capacity, merged);
    }

    /** The whole disk as one DATA extent: for sources that cannot tell what is allocated. */
    public static DiskPlan allData(long capacity) {
        return of(capacity, capacity == 0 ? List.of() : List.of(new Extent(0, capacity, ExtentKind.DATA)));
    }

    public long capacity() {
        return capacity;
    }

    public List<Extent> extents() {
        return extents;
    }

    /** Bytes to read and write: the progress total. Never the capacity unless the disk is full. */
    public long plannedBytes() {
        return plannedBytes;
    }

    /** Bytes of ZERO and HOLE extents: never read. */
    public long skippedBytes() {
        return skippedBytes;
    }

    /** The end of the last extent: where the checkpoint stands when the run is complete. */
    public long end() {
        return extents.isEmpty() ? 0 : extents.get(extents.size() - 1).end();
    }

    /** This plan without everything below {@code offset} (resuming from a checkpoint). */
    public DiskPlan from(long offset) {
        List<Extent> rest = new ArrayList<>();
        for (Extent e : extents) {
            if (e.end() <= offset) {
                continue;
            }
            if (e.offset() < offset) {
                rest.add(new Extent(offset, e.end() - offset, e.kind()));
            } else {
                rest.add(e);
            }
        }
        return new DiskPlan(capacity, rest);
    }

    /**
     * The plan cut into chunks of at most {@code chunkSize} data bytes each. DATA extents are
     * split at chunk boundaries; ZERO and HOLE extents ride along with the data around them.
     */
    public Iterator<Chunk> chunks(long chunkSize) {
        if (chunkSize <= 0) {
            throw new IllegalArgumentException("chunk size must be > 0");
        }
        return new ChunkIterator(chunkSize);
    }

    private final class ChunkIterator implements Iterator<Chunk> {
        private final long chunkSize;
        private int next;          // next extent to consume
        private long consumed;     // bytes of extents.get(next) already placed in earlier chunks
        private long index;

        ChunkIterator(long chunkSize) {
            this.chunkSize = chunkSize;
        }

        @Override
        public boolean hasNext() {
            return next < extents.size();
        }

        @Override
        public Chunk next() {
            if (!hasNext()) {
                throw new NoSuchElementException();
            }
            List<Extent> parts = new ArrayList<>();
            long data = 0;
            while (next < extents.size()) {
                Extent e = extents.get(next);
                long offset = e.offset() + consumed;
                long left = e.length() - consumed;
                if (e.kind().mustRead()) {
                    long room = chunkSize - data;
                    if (room == 0) {
                        break;
                    }
                    long take = Math.min(room, left);
                    parts.add(new Extent(offset, take, e.kind()));
                    data += take;
                    advance(take, left);
                } else {
                    parts.add(new Extent(offset, left, e.kind()));
                    advance(left, left);
                }
            }
            long start = parts.get(0).offset();
            long end = parts.get(parts.size() - 1).end();
            return new Chunk(index++, start, end, parts, data);
        }

        private void advance(long taken, long left) {
            if (taken == left) {
                next++;
                consumed = 0;
            } else {
                consumed += taken;
            }
        }
    }

    @Override
    public String toString() {
        return "DiskPlan[capacity=" + capacity + ", extents=" + extents.size() + ", planned=" + plannedBytes
                + ", skipped=" + skippedBytes + "]";
    }
}
