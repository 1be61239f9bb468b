package org.blockferry.api.http;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.blockferry.engine.job.JobState;
import org.blockferry.engine.job.DiskState;
import org.blockferry.persistence.readside.JobRow;

/**
 * The JSON documents of a job, one shape everywhere (API, SSE, {@code blockferry job --json}):
 * from the read side's row, or from a state folded from the journal.
 */
public final class JobDocuments {
    private JobDocuments() {
    }

    /** A job and its disks, as the read side has them. */
    public static Map<String, Object> of(JobRow j) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("job_id", j.jobId());
        m.put("vm", j.vm());
        m.put("status", j.status());
        m.put("mode", j.mode());
        m.put("total_bytes", j.totalBytes());
        m.put("bytes_transferred", j.bytesTransferred());
        m.put("bytes_written", j.bytesWritten());
        m.put("bytes_zeroed", j.bytesZeroed());
        m.put("bytes_skipped", j.bytesSkipped());
        m.put("progress_percent", j.progressPercent());
        m.put("throughput_bps", j.throughputBps());
        m.put("eta_seconds", j.etaSeconds());
        m.put("retries", j.retries());
        m.put("error", j.error());
        m.put("submitted_at", str(j.submittedAt()));
        m.put("started_at", str(j.startedAt()));
        m.put("finished_at", str(j.finishedAt()));
        List<Object> disks = new ArrayList<>();
        for (JobRow.DiskRow d : j.disks()) {
            Map<String, Object> dm = new LinkedHashMap<>();
            dm.put("id", d.diskId());
            dm.put("source", d.source());
            dm.put("target", d.target());
            dm.put("status", d.status());
            dm.put("mode", d.mode());
            dm.put("mode_reason", d.modeReason());
            dm.put("capacity", d.capacity());
            dm.put("total_bytes", d.totalBytes());
            dm.put("bytes_transferred", d.bytesTransferred());
            dm.put("bytes_written", d.bytesWritten());
            dm.put("bytes_zeroed", d.bytesZeroed());
            dm.put("bytes_skipped", d.bytesSkipped());
            dm.put("checkpoint", d.checkpoint());
            dm.put("progress_percent", d.progressPercent());
            dm.put("throughput_bps", d.throughputBps());
            dm.put("eta_seconds", d.etaSeconds());
            dm.put("retries", d.retries());
            dm.put("resumes", d.resumes());
            dm.put("bytes_recopied", d.bytesRecopied());
            dm.put("change_token", d.changeToken());
            dm.put("error", d.error());
            disks.add(dm);
        }
        m.put("disks", disks);
        return m;
    }

    /** The seed's progress document ({@code GET /api/v1/progress/{id}}). */
    public static Map<String, Object> progress(JobRow j) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("job_id", j.jobId());
        m.put("stage", j.status());
        m.put("percent", j.progressPercent());
        m.put("total_bytes", j.totalBytes());
        m.put("bytes_transferred", j.bytesTransferred());
        m.put("throughput_bps", j.throughputBps());
        m.put("eta_seconds", j.etaSeconds());
        m.put("error", j.error());
        List<Object> disks = new ArrayList<>();
        for (JobRow.DiskRow d : j.disks()) {
            Map<String, Object> dm = new LinkedHashMap<>();
            dm.put("id", d.diskId());
            dm.put("stage", d.status());
            dm.put("percent", d.progressPercent());
            dm.put("total_bytes", d.totalBytes());
            dm.put("bytes_transferred", d.bytesTransferred());
            dm.put("throughput_bps", d.throughputBps());
            dm.put("eta_seconds", d.etaSeconds());
            dm.put("error", d.error());
            disks.add(dm);
        }
        m.put("disks", disks);
        return m;
    }

    /** A job's progress as its events made it (the SSE {@code progress} event). */
    public static Map<String, Object> progress(JobState s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("job_id", s.jobId());
        m.put("vm", s.spec() == null ? null : s.spec().vm());
        m.put("status", s.status().json());
        m.put("total_bytes", s.totalBytes());
        m.put("bytes_transferred", s.bytesTransferred());
        m.put("bytes_written", s.bytesWritten());
        m.put("bytes_zeroed", s.bytesZeroed());
        m.put("bytes_skipped", s.bytesSkipped());
        m.put("percent", s.percent());
        m.put("throughput_bps", s.throughputBps());
        m.put("eta_seconds", s.etaSeconds());
        m.put("retries", s.retries());
        m.put("error", s.error());
        List<Object> disks = new ArrayList<>();
        for (DiskState d : s.disks().values()) {
            Map<String, Object> dm = new LinkedHashMap<>();
            dm.put("id", d.id());
            dm.put("status", d.status().json());
            dm.put("mode", d.mode() == null ? null : d.mode().json());
            dm.put("total_bytes", d.plannedBytes());
            dm.put("bytes_transferred", d.bytesDone());
            dm.put("bytes_written", d.bytesWritten());
            dm.put("bytes_zeroed", d.bytesZeroed());
            dm.put("bytes_skipped", d.bytesSkipped());
            dm.put("percent", d.percent());
            dm.put("throughput_bps", d.throughputBps());
            dm.put("eta_seconds", d.etaSeconds());
            dm.put("retries", d.retries() + d.requestRetries());
            dm.put("error", d.error());
            disks.add(dm);
        }
        m.put("disks", disks);
        return m;
    }

    /** The SSE {@code state} event. */
    public static Map<String, Object> state(JobState s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("job_id", s.jobId());
        m.put("status", s.status().json());
        m.put("error", s.error());
        return m;
    }

    private static String str(Object o) {
        return o == null ? null : o.toString();
    }
}
