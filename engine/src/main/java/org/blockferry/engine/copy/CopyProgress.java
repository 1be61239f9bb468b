package org.blockferry.engine.copy;

import org.blockferry.engine.plan.ResumePoint;
/**
 * One disk's progress, as listeners (the actor layer, the CLI's progress bar) receive it.
 *
 * @param plannedBytes DATA bytes the run must move: the total, never the capacity
 * @param bytesDone planned bytes already handled (written as data, or zero on the target)
 * @param bytesWritten planned bytes sent as data
 * @param bytesZeroed planned bytes found to be zeros: sent as NBD zero, or left alone where the
 *                    target already reads as zero
 * @param bytesSkipped bytes the source reported as holes or zeros: never read
 * @param zeroSentBytes bytes sent to the target as NBD zero requests (zeros and holes the target
 *                      did not already read as zero)
 * @param resumePoint the flushed checkpoint (offset below which every planned byte is on the
 *                    target) with the counters as of that offset
 * @param throughputBps recent rate of {@code bytesDone}, bytes per second
 * @param etaSeconds estimated seconds left, -1 when unknown
 * @param requestRetries requests the server failed (EIO) and this run retried successfully or not
 */
public record CopyProgress(String disk, Phase phase, long capacity, long plannedBytes, long bytesDone,
                           long bytesWritten, long bytesZeroed, long bytesSkipped, long zeroSentBytes,
                           ResumePoint resumePoint,
                           double throughputBps, long etaSeconds, long requestRetries, long elapsedMillis) {

    /** Where a disk's copy stands. */
    public enum Phase { PLANNING, COPYING, FLUSHING, DONE, STOPPED }

    /** Offset below which every planned byte is on the target and flushed. */
    public long checkpoint() {
        return resumePoint.offset();
    }

    /** 0..100; exactly 100 only when every planned byte is done. */
    public double percent() {
        if (plannedBytes == 0) {
            return phase == Phase.DONE ? 100.0 : 0.0;
        }
        if (bytesDone >= plannedBytes) {
            return phase == Phase.DONE ? 100.0 : 99.99;
        }
        return Math.min(99.99, 100.0 * bytesDone / plannedBytes);
    }
}
