package org.blockferry.engine.job;

import com.fasterxml.jackson.annotation.JsonIgnore;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import org.blockferry.engine.CborSerializable;
import org.blockferry.engine.copy.ResumePoint;

/**
 * A replication job as its events made it: status, spec and each disk's progress. Job figures
 * are the sums of the disks' figures. Immutable; snapshots store it as is.
 */
public record JobState(String jobId, JobStatus status, JobSpec spec, Map<String, DiskState> disks, long submittedAt,
                       long startedAt, long finishedAt, String error) implements CborSerializable {

    /** Where a job stands. */
    public enum JobStatus {
        NEW, QUEUED, RUNNING, CANCELLING, COMPLETED, FAILED, CANCELLED;

        public boolean isFinal() {
            return this == COMPLETED || this == FAILED || this == CANCELLED;
        }

        public String json() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** Where a disk stands. */
    public enum DiskStatus {
        PENDING, COPYING, COMPLETED, FAILED;

        public String json() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /**
     * One disk: planned bytes (the total, never the capacity), bytes done, written, zeroed,
     * skipped, sent to the target as NBD zero ({@code bytesZeroSent}), the flushed checkpoint (where a restart resumes, with the counters as of that
     * offset), recent throughput, ETA, restarts ({@code retries}), requests retried after a server
     * error (over all attempts; {@code attemptRequestRetries} of the current one) and the change
     * token of its last successful copy; when its copy started (first planned) and ended, epoch ms (0: not yet).
     */
    public record DiskState(String id, DiskStatus status, CopyMode mode, String modeReason, long capacity,
                            long plannedBytes, long bytesDone, long bytesWritten, long bytesZeroed, long bytesSkipped,
                            long bytesZeroSent, ResumePoint checkpoint, double throughputBps, long etaSeconds,
                            int retries, long requestRetries, long attemptRequestRetries, String changeToken,
                            long startedAt, long finishedAt, String error)
            implements CborSerializable {

        public static DiskState pending(String id) {
            return new DiskState(id, DiskStatus.PENDING, null, null, 0, 0, 0, 0, 0, 0, 0, ResumePoint.START, 0, -1, 0, 0,
                    0, null, 0, 0, null);
        }

        /** 0..100, exactly 100 only when the disk completed. */
        public double percent() {
            if (status == DiskStatus.COMPLETED) {
                return 100.0;
            }
            if (plannedBytes == 0) {
                return 0.0;
            }
            return Math.min(99.99, 100.0 * bytesDone / plannedBytes);
        }

        /** Milliseconds from the start of its copy to its end (or to {@code now} while it runs); -1 before. */
        public long elapsedMillis(long now) {
            return startedAt == 0 ? -1 : Math.max(0, (finishedAt != 0 ? finishedAt : now) - startedAt);
        }
    }

    public static JobState empty(String jobId) {
        return new JobState(jobId, JobStatus.NEW, null, Map.of(), 0, 0, 0, null);
    }

    // ---- figures: sums over the disks ----

    @JsonIgnore
    public long totalBytes() {
        return disks.values().stream().mapToLong(DiskState::plannedBytes).sum();
    }

    @JsonIgnore
    public long bytesTransferred() {
        return disks.values().stream().mapToLong(DiskState::bytesDone).sum();
    }

    @JsonIgnore
    public long bytesWritten() {
        return disks.values().stream().mapToLong(DiskState::bytesWritten).sum();
    }

    @JsonIgnore
    public long bytesZeroed() {
        return disks.values().stream().mapToLong(DiskState::bytesZeroed).sum();
    }

    @JsonIgnore
    public long bytesSkipped() {
        return disks.values().stream().mapToLong(DiskState::bytesSkipped).sum();
    }

    @JsonIgnore
    public long bytesZeroSent() {
        return disks.values().stream().mapToLong(DiskState::bytesZeroSent).sum();
    }

    /** Milliseconds from the job's start to its end (or to {@code now} while it runs); -1 before. */
    public long elapsedMillis(long now) {
        return startedAt == 0 ? -1 : Math.max(0, (finishedAt != 0 ? finishedAt : now) - startedAt);
    }

    @JsonIgnore
    public double throughputBps() {
        return disks.values().stream().filter(d -> d.status() == DiskStatus.COPYING)
                .mapToDouble(DiskState::throughputBps).sum();
    }

    @JsonIgnore
    public long retries() {
        return disks.values().stream().mapToLong(d -> d.retries() + d.requestRetries()).sum();
    }

    /** Seconds left at the current rate, -1 when unknown. */
    @JsonIgnore
    public long etaSeconds() {
        if (status == JobStatus.COMPLETED) {
            return 0;
        }
        double rate = throughputBps();
        return rate > 0 ? (long) Math.ceil((totalBytes() - bytesTransferred()) / rate) : -1;
    }

    /** 0..100, exactly 100 only when the job completed. */
    @JsonIgnore
    public double percent() {
        if (status == JobStatus.COMPLETED) {
            return 100.0;
        }
        long total = totalBytes();
        return total == 0 ? 0.0 : Math.min(99.99, 100.0 * bytesTransferred() / total);
    }

    // ---- changes, one per event ----

    public JobState submitted(JobSpec s, long at) {
        Map<String, DiskState> d = new LinkedHashMap<>();
        for (JobSpec.Disk disk : s.disks()) {
            d.put(disk.id(), DiskState.pending(disk.id()));
        }
        return new JobState(jobId, JobStatus.QUEUED, s, Collections.unmodifiableMap(d), at, 0, 0, null);
    }

    public JobState started(long at) {
        return new JobState(jobId, JobStatus.RUNNING, spec, disks, submittedAt, startedAt == 0 ? at : startedAt, 0,
                null);
    }

    public JobState withStatus(JobStatus s, long at, String reason) {
        return new JobState(jobId, s, spec, disks, submittedAt, startedAt, s.isFinal() ? at : finishedAt, reason);
    }

    public JobState withDisk(DiskState disk) {
        Map<String, DiskState> d = new LinkedHashMap<>(disks);
        d.put(disk.id(), disk);
        return new JobState(jobId, status, spec, Collections.unmodifiableMap(d), submittedAt, startedAt, finishedAt,
                error);
    }

    public DiskState disk(String id) {
        return disks.get(id);
    }

    /** Whether every disk has ended (completed or failed). */
    @JsonIgnore
    public boolean allDisksEnded() {
        return disks.values().stream().allMatch(d -> d.status() == DiskStatus.COMPLETED
                || d.status() == DiskStatus.FAILED);
    }
}
