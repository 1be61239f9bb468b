package org.blockferry.engine.plan;

import org.blockferry.engine.CborSerializable;

/**
 * A flushed checkpoint and the disk's counters as of that offset: where a copy resumes after a
 * failure or a crash, without counting anything twice. {@code zeroSentBytes} counts bytes that
 * became NBD zero requests on the target (planned zeros, and holes over a target not known to be zero).
 */
public record ResumePoint(long offset, long bytesDone, long bytesWritten, long bytesZeroed, long bytesSkipped,
                          long zeroSentBytes) implements CborSerializable {

    public static final ResumePoint START = new ResumePoint(0, 0, 0, 0, 0, 0);

    public ResumePoint {
        if (offset < 0 || bytesDone < 0 || bytesWritten < 0 || bytesZeroed < 0 || bytesSkipped < 0
                || zeroSentBytes < 0) {
            throw new IllegalArgumentException("resume point values must be >= 0");
        }
    }
}
