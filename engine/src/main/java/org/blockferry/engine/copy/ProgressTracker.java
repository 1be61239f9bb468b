package org.blockferry.engine.copy;

import org.blockferry.engine.copy.CopyProgress.Phase;
import org.blockferry.engine.plan.ResumePoint;

/**
 * Counts one disk's progress as chunks finish. Written by the pipeline's last stage (one
 * thread), read by anyone; the rate is measured over the last ten seconds or so.
 */
final class ProgressTracker {
    private static final long WINDOW_NANOS = 10_000_000_000L;
    private static final int SAMPLES = 64;

    private final String disk;
    private final long startNanos = System.nanoTime();
    private volatile Phase phase = Phase.PLANNING;
    private volatile long capacity;
    private volatile long planned;
    private volatile long done;
    private volatile long written;
    private volatile long zeroed;
    private volatile long skipped;
    private volatile long zeroSent;
    private volatile long contiguous;
    private volatile ResumePoint checkpoint = ResumePoint.START;
    private final long[] sampleTimes = new long[SAMPLES];
    private final long[] sampleDone = new long[SAMPLES];
    private int sampleCount;
    private int sampleHead;

    private final java.util.function.LongSupplier requestRetries;

    ProgressTracker(String disk, java.util.function.LongSupplier requestRetries) {
        this.disk = disk;
        this.requestRetries = requestRetries;
    }

    /**
     * The run moves {@code plannedBytes}; {@code alreadyDone} of them (with the counters of
     * {@code resume}) were done by an earlier attempt up to {@code resume.offset()}.
     */
    void planned(long capacity, long plannedBytes, long alreadyDone, ResumePoint resume) {
        this.capacity = capacity;
        this.planned = plannedBytes;
        this.done = alreadyDone;
        this.written = resume.bytesWritten();
        this.zeroed = resume.bytesZeroed();
        this.skipped = resume.bytesSkipped();
        this.zeroSent = resume.zeroSentBytes();
        this.contiguous = resume.offset();
        this.checkpoint = new ResumePoint(resume.offset(), alreadyDone, written, zeroed, skipped, zeroSent);
        this.phase = Phase.COPYING;
    }

    /** A chunk is entirely on the target (not yet flushed). */
    void chunkDone(ChunkWriter.Done d) {
        done += d.chunk().dataBytes();
        written += d.written();
        zeroed += d.zeroed();
        skipped += d.skipped();
        zeroSent += d.zeroSent();
        contiguous = d.chunk().end();
    }

    long contiguous() {
        return contiguous;
    }

    long checkpoint() {
        return checkpoint.offset();
    }

    /** The counters now, at the contiguous position: what a flush issued now will make durable. */
    ResumePoint position() {
        return new ResumePoint(contiguous, done, written, zeroed, skipped, zeroSent);
    }

    /** The target was flushed with everything below {@code point.offset()} on it. */
    void flushedUpTo(ResumePoint point) {
        if (point.offset() > checkpoint.offset() || point.bytesDone() > checkpoint.bytesDone()) {
            checkpoint = point;
        }
    }

    void phase(Phase p) {
        phase = p;
    }

    synchronized CopyProgress snapshot() {
        long now = System.nanoTime();
        long doneNow = done;
        record(now, doneNow);
        double rate = rate(now, doneNow);
        long left = planned - doneNow;
        long eta = phase == Phase.DONE ? 0 : rate > 0 ? (long) Math.ceil(left / rate) : -1;
        return new CopyProgress(disk, phase, capacity, planned, doneNow, written, zeroed, skipped, zeroSent, checkpoint,
                rate, eta, requestRetries.getAsLong(), (now - startNanos) / 1_000_000);
    }

    private void record(long now, long doneNow) {
        int last = (sampleHead + sampleCount - 1) % SAMPLES;
        if (sampleCount > 0 && now - sampleTimes[last] < 100_000_000L) {
            return; // at most ten samples a second
        }
        int slot = (sampleHead + sampleCount) % SAMPLES;
        if (sampleCount == SAMPLES) {
            sampleHead = (sampleHead + 1) % SAMPLES;
        } else {
            sampleCount++;
        }
        sampleTimes[slot] = now;
        sampleDone[slot] = doneNow;
    }

    private double rate(long now, long doneNow) {
        int oldest = -1;
        for (int i = 0; i < sampleCount; i++) {
            int slot = (sampleHead + i) % SAMPLES;
            if (now - sampleTimes[slot] <= WINDOW_NANOS) {
                oldest = slot;
                break;
            }
        }
        long since;
        long base;
        if (oldest >= 0 && now - sampleTimes[oldest] >= 500_000_000L) {
            since = sampleTimes[oldest];
            base = sampleDone[oldest];
        } else {
            since = startNanos;
            base = 0;
        }
        double seconds = (now - since) / 1e9;
        return seconds <= 0 ? 0 : (doneNow - base) / seconds;
    }
}
