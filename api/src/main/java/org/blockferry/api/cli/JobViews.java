package org.blockferry.api.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.blockferry.engine.job.JobState;
import org.blockferry.engine.job.JobState.DiskState;
import org.blockferry.persistence.readside.JobRow;

/** How jobs look on the command line: bars while running, a table, a summary, JSON. */
final class JobViews {
    private JobViews() {
    }

    /** A bar per disk and one for the job (planned bytes, never capacity). */
    static List<ProgressBars.Bar> bars(JobState s) {
        List<ProgressBars.Bar> out = new ArrayList<>();
        for (DiskState d : s.disks().values()) {
            String state = switch (d.status()) {
                case PENDING -> "pending";
                case COMPLETED -> "done";
                case FAILED -> "failed";
                case COPYING -> d.retries() > 0 && d.throughputBps() == 0 ? "retrying" : null;
            };
            out.add(new ProgressBars.Bar(d.id(), d.bytesDone(), d.plannedBytes(), d.percent(), d.throughputBps(),
                    d.etaSeconds(), state, true));
        }
        String jobState = s.status() == JobState.JobStatus.RUNNING ? null : s.status().json();
        out.add(new ProgressBars.Bar("job " + shortId(s.jobId()), s.bytesTransferred(), s.totalBytes(), s.percent(),
                s.throughputBps(), s.etaSeconds(), jobState, s.status() != JobState.JobStatus.NEW));
        return out;
    }

    private static String shortId(String id) {
        return id.length() <= 8 ? id : id.substring(0, 8);
    }

    static void printTable(PrintWriter out, List<JobRow> jobs) {
        out.printf("%-36s %-20s %-10s %8s %12s %12s%n", "JOB", "VM", "STATUS", "PERCENT", "DONE", "TOTAL");
        for (JobRow j : jobs) {
            out.printf(Locale.ROOT, "%-36s %-20s %-10s %7.2f%% %12s %12s%n", j.jobId(), j.vm(), j.status(),
                    j.progressPercent(), HumanBytes.format(j.bytesTransferred()), HumanBytes.format(j.totalBytes()));
        }
    }

    static void printJob(PrintWriter out, JobRow j) {
        out.printf("job %s  vm %s  %s  %.2f%%%n", j.jobId(), j.vm(), j.status(), j.progressPercent());
        out.printf("  %s of %s planned; written %s, zeroed %s, skipped %s; retries %d%n",
                HumanBytes.format(j.bytesTransferred()), HumanBytes.format(j.totalBytes()),
                HumanBytes.format(j.bytesWritten()), HumanBytes.format(j.bytesZeroed()),
                HumanBytes.format(j.bytesSkipped()), j.retries());
        out.printf("  submitted %s, started %s, finished %s%n", j.submittedAt(), j.startedAt(), j.finishedAt());
        if (j.error() != null) {
            out.println("  error: " + j.error());
        }
        for (JobRow.DiskRow d : j.disks()) {
            out.printf(Locale.ROOT, "  disk %-10s %-10s %7.2f%%  %s / %s  mode %s  checkpoint %d  retries %d%n",
                    d.diskId(), d.status(), d.progressPercent(), HumanBytes.format(d.bytesTransferred()),
                    HumanBytes.format(d.totalBytes()), d.mode(), d.checkpoint(), d.retries());
            out.printf("       %s -> %s%n", d.source(), d.target());
            if (d.modeReason() != null) {
                out.println("       " + d.modeReason());
            }
            if (d.resumes() > 0) {
                out.printf("       resumed %d time%s from its checkpoint, %s copied again%n", d.resumes(),
                        d.resumes() == 1 ? "" : "s", HumanBytes.format(d.bytesRecopied()));
            }
            if (d.error() != null) {
                out.println("       error: " + d.error());
            }
        }
    }

    static Map<String, Object> json(JobRow j) {
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

    private static String str(Object o) {
        return o == null ? null : o.toString();
    }
}
