package org.blockferry.engine.plan;

/** A range {@code [offset, offset + length)} of a disk and what it holds. */
public record Extent(long offset, long length, ExtentKind kind) {
    public Extent {
        if (offset < 0 || length <= 0) {
            throw new IllegalArgumentException("extent needs offset >= 0 and length > 0, got " + offset + "+" + length);
        }
        if (kind == null) {
            throw new IllegalArgumentException("extent kind is required");
        }
    }

    public long end() {
        return offset + length;
    }
}
