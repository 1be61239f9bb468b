package org.blockferry.engine.job;

import com.fasterxml.jackson.annotation.JsonIgnore;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.blockferry.engine.CborSerializable;

/**
 * A replication job as its events made it: status, spec and each disk's progress. The only
 * definition of a job's state: the job's actor, the read side and the event stream fold the
 * same events into it with the same event handler, and every view renders a
 * {@link JobDocument} of it. Job figures are the sums of the disks' figures. Immutable; snapshots
 * store it as is.
 *
 * @param waitingFor why a queued job does not run yet (a busy target, no free slot), or null
 * @param node the cluster member ("host:port") that runs the job, or ran it last; null before
 * @param cutover a cloudstack target's cutover after its final sync, null before it begins
 */
public record JobState(String jobId, JobStatus status, JobSpec spec, Map<String, DiskState> disks, long submittedAt,
                       long startedAt, long finishedAt, String error, String waitingFor, String node,
                       Cutover cutover) implements CborSerializable {

    /**
     * The cutover into CloudStack after a final sync: the step it is at (or ended with), the
     * guest conversion's outcome when it was asked for, and the VM it created (null until then).
     */
    public record Cutover(String step, String conversion, String vmId) implements CborSerializable {
    }

    /** The cutover at {@code step}; {@code conversion} and {@code vm} kept when null. */
    public JobState cutoverAt(String step, String conversion, String vm) {
        Cutover c = new Cutover(step, conversion != null ? conversion : cutover == null ? null : cutover.conversion(),
                vm != null ? vm : cutover == null ? null : cutover.vmId());
        return new JobState(jobId, status, spec, disks, submittedAt, startedAt, finishedAt, error, waitingFor, node, c);
    }

    /** Where a job stands. */
    public enum JobStatus {
        NEW, QUEUED, RUNNING, CANCELLING, COMPLETED, FAILED, CANCELLED;

        public boolean isFinal() {
            return this == COMPLETED || this == FAILED || this == CANCELLED;
        }

        public String json() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** Where a disk stands; {@code CANCELLED}: the job ended (cancel, fail-fast) before the disk did. */
    public enum DiskStatus {
        PENDING, PROVISIONING, COPYING, COMPLETED, FAILED, CANCELLED;

        public boolean isFinal() {
            return this == COMPLETED || this == FAILED || this == CANCELLED;
        }

        public String json() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    public static JobState empty(String jobId) {
        return new JobState(jobId, JobStatus.NEW, null, Map.of(), 0, 0, 0, null, null, null, null);
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

    /** The recent rate of the disks that are copying. */
    @JsonIgnore
    public double throughputBps() {
        return status.isFinal() ? 0 : disks.values().stream().filter(d -> d.status() == DiskStatus.COPYING)
                .mapToDouble(DiskState::throughputBps).sum();
    }

    /** Disk restarts plus requests retried after a server error, over all disks. */
    @JsonIgnore
    public long retries() {
        return disks.values().stream().mapToLong(DiskState::allRetries).sum();
    }

    /** Seconds left at the current rate; 0 once completed, -1 when unknown or ended otherwise. */
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
        return DiskState.percentOf(bytesTransferred(), totalBytes());
    }

    /** Milliseconds from the job's start to its end (or to {@code now} while it runs); -1 before. */
    public long elapsedMillis(long now) {
        return startedAt == 0 ? -1 : Math.max(0, (finishedAt != 0 ? finishedAt : now) - startedAt);
    }

    public DiskState disk(String id) {
        return disks.get(id);
    }

    /** Whether every disk has ended (completed, failed or cancelled). */
    @JsonIgnore
    public boolean allDisksEnded() {
        return disks.values().stream().allMatch(d -> d.status().isFinal());
    }

    // ---- changes (the event handler calls these, one or two per event) ----

    /** Submitted: queued, each disk pending, with the identities of its source and target. */
    public JobState submitted(JobSpec s, Map<String, DiskIdentities> identities, long at) {
        Map<String, DiskState> d = new LinkedHashMap<>();
        for (JobSpec.Disk disk : s.disks()) {
            DiskIdentities ids = identities == null ? null : identities.get(disk.id());
            d.put(disk.id(), DiskState.pending(disk, ids));
        }
        return new JobState(jobId, JobStatus.QUEUED, s, Collections.unmodifiableMap(d), at, 0, 0, null, null, node, null);
    }

    public JobState waiting(String reason) {
        return new JobState(jobId, status, spec, disks, submittedAt, startedAt, finishedAt, error, reason, node, cutover);
    }

    /** The job runs on {@code member} now (taken up there, after a submission, restart or failover). */
    public JobState runsOn(String member) {
        return new JobState(jobId, status, spec, disks, submittedAt, startedAt, finishedAt, error, waitingFor, member, cutover);
    }

    public JobState started(long at) {
        return new JobState(jobId, JobStatus.RUNNING, spec, disks, submittedAt, startedAt == 0 ? at : startedAt, 0,
                null, null, node, cutover);
    }

    /**
     * A new status; a final one also ends the disks still pending or copying ({@code cancelled})
     * and stops their rates.
     */
    public JobState withStatus(JobStatus s, long at, String reason) {
        JobState next = new JobState(jobId, s, spec, disks, submittedAt, startedAt, s.isFinal() ? at : finishedAt,
                reason, s == JobStatus.QUEUED ? waitingFor : null, node, cutover);
        return s.isFinal() ? next.withDisks(d -> d.status().isFinal() ? d.stopped() : d.cancelled(at)) : next;
    }

    /** The disk {@code id} changed by {@code change}. */
    public JobState withDisk(String id, UnaryOperator<DiskState> change) {
        Map<String, DiskState> d = new LinkedHashMap<>(disks);
        d.computeIfPresent(id, (k, v) -> change.apply(v));
        return new JobState(jobId, status, spec, Collections.unmodifiableMap(d), submittedAt, startedAt, finishedAt,
                error, waitingFor, node, cutover);
    }

    private JobState withDisks(UnaryOperator<DiskState> change) {
        Map<String, DiskState> d = new LinkedHashMap<>();
        disks.forEach((k, v) -> d.put(k, change.apply(v)));
        return new JobState(jobId, status, spec, Collections.unmodifiableMap(d), submittedAt, startedAt, finishedAt,
                error, waitingFor, node, cutover);
    }

    /** What a disk's source and target are, whatever their spelling ({@code DiskLocation#identity()}). */
    public record DiskIdentities(String source, String target) implements CborSerializable {
    }
}
