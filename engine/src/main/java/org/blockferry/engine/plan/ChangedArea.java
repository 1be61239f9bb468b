package org.blockferry.engine.plan;

/** A byte range of a disk reported by QueryChangedDiskAreas: allocated (changeId "*") or changed. */
public record ChangedArea(long start, long length) {
    public long end() {
        return start + length;
    }
}
