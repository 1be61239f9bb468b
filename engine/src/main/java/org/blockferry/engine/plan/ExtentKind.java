package org.blockferry.engine.plan;

/** What a range of a disk holds, as the source reports it. */
public enum ExtentKind {
    /** Allocated; must be read (and may still turn out to be zeros). */
    DATA,
    /** Allocated but reads as zeros: never read, zeroed on the target. */
    ZERO,
    /** Not allocated, reads as zeros: never read, zeroed on the target. */
    HOLE;

    public boolean mustRead() {
        return this == DATA;
    }
}
