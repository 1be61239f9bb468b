package org.blockferry.nbd;

/**
 * One extent from block status: a range and the context's flags for it. For
 * {@code base:allocation} the flags are {@link #STATE_HOLE} and {@link #STATE_ZERO}; for
 * {@code qemu:dirty-bitmap:NAME}, bit 0 ({@link #STATE_DIRTY}) means changed.
 */
public record NbdExtent(long offset, long length, int flags) {
    public static final int STATE_HOLE = 1;
    public static final int STATE_ZERO = 2;
    public static final int STATE_DIRTY = 1;

    public NbdExtent {
        if (offset < 0 || length < 0) {
            throw new IllegalArgumentException("extent offset and length must be >= 0, got " + offset + "+" + length);
        }
    }

    public long end() {
        return offset + length;
    }

    /** For base:allocation: the range reads as zeros. */
    public boolean isZero() {
        return (flags & STATE_ZERO) != 0;
    }

    /** For base:allocation: the range is not allocated. */
    public boolean isHole() {
        return (flags & STATE_HOLE) != 0;
    }
}
