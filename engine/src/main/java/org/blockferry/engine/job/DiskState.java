package org.blockferry.engine.job;

import com.fasterxml.jackson.annotation.JsonIgnore;
import java.util.function.Consumer;
import org.blockferry.engine.CborSerializable;
import org.blockferry.engine.job.JobState.DiskIdentities;
import org.blockferry.engine.job.JobState.DiskStatus;
import org.blockferry.engine.plan.CopyMode;
import org.blockferry.engine.plan.ResumePoint;

/**
 * One disk of a job as its events made it: where it comes from and goes to, planned bytes (the
 * total, never the capacity), bytes done, written, zeroed, skipped, sent to the target as NBD
 * zero ({@code bytesZeroSent}), the flushed checkpoint (where a restart resumes, with the
 * counters as of that offset), recent throughput, ETA, restarts ({@code retries}), requests
 * retried after a server error (over all attempts; {@code attemptRequestRetries} of the current
 * one), resumes after a node restart and the bytes they copied again, the change token of its
 * completed copy, and when its copy started (first planned) and ended, epoch ms (0: not yet).
 * A provisioned target (a CloudStack volume) adds the last provisioning step and the volume's id.
 */
public record DiskState(String id, String source, String target, DiskIdentities identities, DiskStatus status,
                        CopyMode mode, String modeReason, long capacity, long plannedBytes, long bytesDone,
                        long bytesWritten, long bytesZeroed, long bytesSkipped, long bytesZeroSent,
                        ResumePoint checkpoint, double throughputBps, long etaSeconds, int retries,
                        long requestRetries, long attemptRequestRetries, int resumes, long bytesRecopied,
                        String changeToken, long startedAt, long finishedAt, String error,
                        String provisioningStep, String volumeId)
        implements CborSerializable {

    public static DiskState pending(JobSpec.Disk disk, DiskIdentities identities) {
        return new DiskState(disk.id(), disk.source(), disk.target(), identities, DiskStatus.PENDING, null, null, 0, 0,
                0, 0, 0, 0, 0, ResumePoint.START, 0, -1, 0, 0, 0, 0, 0, null, 0, 0, null, null, null);
    }

    /** 0..100, exactly 100 only when the disk completed. */
    @JsonIgnore
    public double percent() {
        return status == DiskStatus.COMPLETED ? 100.0 : percentOf(bytesDone, plannedBytes);
    }

    /** Restarts plus requests retried after a server error. */
    @JsonIgnore
    public long allRetries() {
        return retries + requestRetries;
    }

    /** Milliseconds from the start of its copy to its end (or to {@code now} while it runs); -1 before. */
    public long elapsedMillis(long now) {
        return startedAt == 0 ? -1 : Math.max(0, (finishedAt != 0 ? finishedAt : now) - startedAt);
    }

    /** {@code done} of {@code total} in percent, below 100 (only completion is 100). */
    static double percentOf(long done, long total) {
        return total == 0 ? 0.0 : Math.min(99.99, 100.0 * done / total);
    }

    // ---- changes ----

    /** A step of provisioning its target, before the copy; {@code volume}: the target volume's id once known. */
    public DiskState provisioning(String step, String volume) {
        return edit(b -> {
            b.status = status == DiskStatus.PENDING ? DiskStatus.PROVISIONING : status;
            b.provisioningStep = step;
            b.volumeId = volume != null ? volume : volumeId;
        });
    }

    /** Planned (again, after a retry): what this run moves and why. */
    public DiskState planned(CopyMode m, String reason, long cap, long planned, long at) {
        return edit(b -> {
            b.status = DiskStatus.COPYING;
            b.mode = m;
            b.modeReason = reason;
            b.capacity = cap;
            b.plannedBytes = planned;
            b.bytesDone = Math.min(bytesDone, planned);
            b.startedAt = startedAt == 0 ? at : startedAt;
            b.finishedAt = 0;
            b.error = null;
        });
    }

    /** Progress: counters never go backwards (a retry resumes from its checkpoint and catches up). */
    public DiskState progressed(ResumePoint point, long done, long written, long zeroed, long skipped, long zeroSent,
                                double rate, long eta, long totalRequestRetries, long attemptRetries, long at) {
        return edit(b -> {
            b.status = status == DiskStatus.PENDING || status == DiskStatus.PROVISIONING ? DiskStatus.COPYING : status;
            b.bytesDone = Math.min(plannedBytes, Math.max(bytesDone, done));
            b.bytesWritten = Math.max(bytesWritten, written);
            b.bytesZeroed = Math.max(bytesZeroed, zeroed);
            b.bytesSkipped = Math.max(bytesSkipped, skipped);
            b.bytesZeroSent = Math.max(bytesZeroSent, zeroSent);
            b.checkpoint = point.offset() >= checkpoint.offset() ? point : checkpoint;
            b.throughputBps = rate;
            b.etaSeconds = eta;
            b.requestRetries = Math.max(requestRetries, totalRequestRetries);
            b.attemptRequestRetries = attemptRetries;
            b.startedAt = startedAt == 0 ? at : startedAt;
        });
    }

    /** An attempt failed and another one follows (from the checkpoint). */
    public DiskState retried(String reason) {
        return edit(b -> {
            b.throughputBps = 0;
            b.etaSeconds = -1;
            b.retries = retries + 1;
            b.attemptRequestRetries = 0;
            b.error = reason;
        });
    }

    /** After a node restart the copy starts again from its checkpoint; what it had done above it is copied again. */
    public DiskState resumed(long recopied) {
        return edit(b -> {
            b.resumes = resumes + 1;
            b.bytesRecopied = bytesRecopied + recopied;
        });
    }

    public DiskState completed(String token, long at) {
        return edit(b -> {
            b.status = DiskStatus.COMPLETED;
            b.bytesDone = plannedBytes;
            b.checkpoint = new ResumePoint(Math.max(checkpoint.offset(), capacity), plannedBytes, bytesWritten,
                    bytesZeroed, bytesSkipped, bytesZeroSent);
            b.throughputBps = 0;
            b.etaSeconds = 0;
            b.changeToken = token;
            b.finishedAt = at;
            b.error = null;
        });
    }

    public DiskState failed(String reason, long at) {
        return edit(b -> {
            b.status = DiskStatus.FAILED;
            b.throughputBps = 0;
            b.etaSeconds = -1;
            b.finishedAt = at;
            b.error = reason;
        });
    }

    /** The job ended before this disk did. */
    public DiskState cancelled(long at) {
        return edit(b -> {
            b.status = DiskStatus.CANCELLED;
            b.throughputBps = 0;
            b.etaSeconds = -1;
            b.finishedAt = at;
        });
    }

    /** An ended disk of an ended job: no rate. */
    public DiskState stopped() {
        return throughputBps == 0 ? this : edit(b -> b.throughputBps = 0);
    }

    private DiskState edit(Consumer<Builder> change) {
        Builder b = new Builder(this);
        change.accept(b);
        return b.build();
    }

    /** A mutable copy, for the changes above only. */
    private static final class Builder {
        private final DiskState from;
        DiskStatus status;
        CopyMode mode;
        String modeReason;
        long capacity;
        long plannedBytes;
        long bytesDone;
        long bytesWritten;
        long bytesZeroed;
        long bytesSkipped;
        long bytesZeroSent;
        ResumePoint checkpoint;
        double throughputBps;
        long etaSeconds;
        int retries;
        long requestRetries;
        long attemptRequestRetries;
        int resumes;
        long bytesRecopied;
        String changeToken;
        long startedAt;
        long finishedAt;
        String error;
        String provisioningStep;
        String volumeId;

        Builder(DiskState d) {
            from = d;
            status = d.status;
            mode = d.mode;
            modeReason = d.modeReason;
            capacity = d.capacity;
            plannedBytes = d.plannedBytes;
            bytesDone = d.bytesDone;
            bytesWritten = d.bytesWritten;
            bytesZeroed = d.bytesZeroed;
            bytesSkipped = d.bytesSkipped;
            bytesZeroSent = d.bytesZeroSent;
            checkpoint = d.checkpoint;
            throughputBps = d.throughputBps;
            etaSeconds = d.etaSeconds;
            retries = d.retries;
            requestRetries = d.requestRetries;
            attemptRequestRetries = d.attemptRequestRetries;
            resumes = d.resumes;
            bytesRecopied = d.bytesRecopied;
            changeToken = d.changeToken;
            startedAt = d.startedAt;
            finishedAt = d.finishedAt;
            error = d.error;
            provisioningStep = d.provisioningStep;
            volumeId = d.volumeId;
        }

        DiskState build() {
            return new DiskState(from.id, from.source, from.target, from.identities, status, mode, modeReason,
                    capacity, plannedBytes, bytesDone, bytesWritten, bytesZeroed, bytesSkipped, bytesZeroSent,
                    checkpoint, throughputBps, etaSeconds, retries, requestRetries, attemptRequestRetries, resumes,
                    bytesRecopied, changeToken, startedAt, finishedAt, error, provisioningStep, volumeId);
        }
    }
}
