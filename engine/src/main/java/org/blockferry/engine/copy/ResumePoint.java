package org.blockferry.engine.copy;

import org.blockferry.engine.CborSerializable;

/**
 * A flushed checkpoint and the disk's counters as of that offset: where a copy resumes after a
 * failure or a crash, without counting anything twice.
 */
public record ResumePoint(long offset, long bytesDone, long bytesWritten, long bytesZeroed, long bytesSkipped)
        implements CborSerializable {

    public static final ResumePoint START = new ResumePoint(0, 0, 0, 0, 0);

    public ResumePoint {
        if (offset < 0 || bytesDone < 0 || bytesWritten < 0 || bytesZeroed < 0 || bytesSkipped < 0) {
            throw new IllegalArgumentException("resume point values must be >= 0");
        }
    }
}
