package org.blockferry.engine.job;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.time.Instant;
import java.util.List;

/**
 * A job as every view shows it — the HTTP API, the event stream, the CLI, metrics and the web
 * page: one document built from {@link JobState}, with the same field names everywhere. Nothing
 * else derives a job's figures.
 */
public record JobDocument(@JsonProperty("job_id") String jobId, @JsonProperty("vm") String vm,
                          @JsonProperty("status") String status, @JsonProperty("mode") String mode,
                          @JsonProperty("waiting_for") String waitingFor,
                          @JsonProperty("node") String node,
                          @JsonProperty("total_bytes") long totalBytes,
                          @JsonProperty("bytes_transferred") long bytesTransferred,
                          @JsonProperty("bytes_written") long bytesWritten,
                          @JsonProperty("bytes_zeroed") long bytesZeroed,
                          @JsonProperty("bytes_skipped") long bytesSkipped,
                          @JsonProperty("bytes_zero_sent") long bytesZeroSent,
                          @JsonProperty("progress_percent") double progressPercent,
                          @JsonProperty("throughput_bps") double throughputBps,
                          @JsonProperty("eta_seconds") long etaSeconds,
                          @JsonProperty("retries") long retries,
                          @JsonProperty("error") String error,
                          @JsonProperty("submitted_at") String submittedAt,
                          @JsonProperty("started_at") String startedAt,
                          @JsonProperty("finished_at") String finishedAt,
                          @JsonProperty("disks") List<Disk> disks,
                          @JsonProperty("cutover") Cutover cutover) {

    /**
     * A cloudstack target's cutover after its final sync: the step it is at or ended with, the
     * guest conversion's outcome, the VM it created (its volumes are the disks' {@code volume_id}).
     */
    public record Cutover(@JsonProperty("step") String step, @JsonProperty("conversion") String conversion,
                          @JsonProperty("vm_id") String vmId) {
    }

    /** One disk of the job. */
    public record Disk(@JsonProperty("id") String id, @JsonProperty("source") String source,
                       @JsonProperty("target") String target, @JsonProperty("status") String status,
                       @JsonProperty("mode") String mode, @JsonProperty("mode_reason") String modeReason,
                       @JsonProperty("capacity") long capacity, @JsonProperty("total_bytes") long totalBytes,
                       @JsonProperty("bytes_transferred") long bytesTransferred,
                       @JsonProperty("bytes_written") long bytesWritten,
                       @JsonProperty("bytes_zeroed") long bytesZeroed,
                       @JsonProperty("bytes_skipped") long bytesSkipped,
                       @JsonProperty("bytes_zero_sent") long bytesZeroSent,
                       @JsonProperty("checkpoint") long checkpoint,
                       @JsonProperty("progress_percent") double progressPercent,
                       @JsonProperty("throughput_bps") double throughputBps,
                       @JsonProperty("eta_seconds") long etaSeconds,
                       @JsonProperty("retries") long retries,
                       @JsonProperty("resumes") int resumes,
                       @JsonProperty("bytes_recopied") long bytesRecopied,
                       @JsonProperty("change_token") String changeToken,
                       @JsonProperty("error") String error,
                       @JsonProperty("started_at") String startedAt,
                       @JsonProperty("finished_at") String finishedAt,
                       @JsonProperty("provisioning_step") String provisioningStep,
                       @JsonProperty("volume_id") String volumeId) {

        static Disk of(DiskState d, boolean jobEnded) {
            return new Disk(d.id(), d.source(), d.target(), d.status().json(),
                    d.mode() == null ? null : d.mode().json(), d.modeReason(), d.capacity(), d.plannedBytes(),
                    d.bytesDone(), d.bytesWritten(), d.bytesZeroed(), d.bytesSkipped(), d.bytesZeroSent(),
                    d.checkpoint().offset(), d.percent(), jobEnded ? 0 : d.throughputBps(),
                    jobEnded && d.status() != JobState.DiskStatus.COMPLETED ? -1 : d.etaSeconds(), d.allRetries(),
                    d.resumes(), d.bytesRecopied(), d.changeToken(), d.error(), time(d.startedAt()),
                    time(d.finishedAt()), d.provisioningStep(), d.volumeId());
        }
    }

    /** The document of {@code s}. */
    public static JobDocument of(JobState s) {
        JobSpec spec = s.spec();
        boolean ended = s.status().isFinal();
        return new JobDocument(s.jobId(), spec == null ? null : spec.vm(), s.status().json(),
                spec == null ? null : spec.mode().json(), s.waitingFor(), s.node(), s.totalBytes(), s.bytesTransferred(),
                s.bytesWritten(), s.bytesZeroed(), s.bytesSkipped(), s.bytesZeroSent(), s.percent(),
                s.throughputBps(), s.etaSeconds(), s.retries(), s.error(), time(s.submittedAt()),
                time(s.startedAt()), time(s.finishedAt()),
                s.disks().values().stream().map(d -> Disk.of(d, ended)).toList(),
                s.cutover() == null ? null : new Cutover(s.cutover().step(), s.cutover().conversion(),
                        s.cutover().vmId()));
    }

    /** Whether the job has ended (completed, failed or cancelled). */
    @com.fasterxml.jackson.annotation.JsonIgnore
    public boolean ended() {
        return status.equals("completed") || status.equals("failed") || status.equals("cancelled");
    }

    private static String time(long epochMillis) {
        return epochMillis == 0 ? null : Instant.ofEpochMilli(epochMillis).toString();
    }
}
