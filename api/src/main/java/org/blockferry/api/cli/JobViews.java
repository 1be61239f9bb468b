package org.blockferry.api.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.blockferry.engine.job.DiskState;
import org.blockferry.engine.job.JobDocument;
import org.blockferry.engine.job.JobState;

/** How jobs look on the command line: bars while running, a table, a summary, JSON. */
final class JobViews {
    private JobViews() {
    }

    /** A bar per disk and one for the job (planned bytes, never capacity). */
    static List<ProgressBars.Bar> bars(JobState s) {
        long now = System.currentTimeMillis();
        List<ProgressBars.Bar> out = new ArrayList<>();
        for (DiskState d : s.disks().values()) {
            String state = switch (d.status()) {
                case PENDING -> "pending";
                case PROVISIONING -> "provisioning: " + d.provisioningStep();
                case COMPLETED -> "done";
                case FAILED -> "failed";
                case CANCELLED -> "cancelled";
                case COPYING -> d.retries() > 0 && d.throughputBps() == 0 ? "retrying" : null;
            };
            out.add(d.status().isFinal() && d.startedAt() != 0
                    ? ProgressBars.Bar.ended(d.id(), d.bytesDone(), d.plannedBytes(), d.percent(), d.elapsedMillis(now),
                            state)
                    : ProgressBars.Bar.running(d.id(), d.bytesDone(), d.plannedBytes(), d.percent(), d.throughputBps(),
                            d.etaSeconds(), state, true));
        }
        String label = "job " + shortId(s.jobId());
        if (s.status().isFinal() && s.startedAt() != 0) {
            out.add(ProgressBars.Bar.ended(label, s.bytesTransferred(), s.totalBytes(), s.percent(),
                    s.elapsedMillis(now), s.status().json()));
        } else {
            String jobState = s.status() == JobState.JobStatus.RUNNING ? null : s.status().json();
            out.add(ProgressBars.Bar.running(label, s.bytesTransferred(), s.totalBytes(), s.percent(),
                    s.throughputBps(), s.etaSeconds(), jobState, s.status() != JobState.JobStatus.NEW));
        }
        return out;
    }

    private static String shortId(String id) {
        return id.length() <= 8 ? id : id.substring(0, 8);
    }

    static void printTable(PrintWriter out, List<JobDocument> jobs) {
        out.printf("%-36s %-20s %-10s %8s %12s %12s  %s%n", "JOB", "VM", "STATUS", "PERCENT", "DONE", "TOTAL",
                "NODE");
        for (JobDocument j : jobs) {
            out.printf(Locale.ROOT, "%-36s %-20s %-10s %7.2f%% %12s %12s  %s%n", j.jobId(), j.vm(), j.status(),
                    j.progressPercent(), HumanBytes.format(j.bytesTransferred()), HumanBytes.format(j.totalBytes()),
                    j.node() == null ? "-" : j.node());
        }
    }

    static void printJob(PrintWriter out, JobDocument j) {
        out.printf(Locale.ROOT, "job %s  vm %s  %s  %.2f%%%s%n", j.jobId(), j.vm(), j.status(), j.progressPercent(),
                j.node() == null ? "" : "  on node " + j.node());
        if (j.waitingFor() != null) {
            out.println("  " + j.waitingFor());
        }
        out.printf("  %s of %s planned; written %s, zeroed %s, skipped %s, sent as NBD zero %s; retries %d%n",
                HumanBytes.format(j.bytesTransferred()), HumanBytes.format(j.totalBytes()),
                HumanBytes.format(j.bytesWritten()), HumanBytes.format(j.bytesZeroed()),
                HumanBytes.format(j.bytesSkipped()), HumanBytes.format(j.bytesZeroSent()), j.retries());
        out.printf("  submitted %s, started %s, finished %s%n", j.submittedAt(), j.startedAt(), j.finishedAt());
        if (j.error() != null) {
            out.println("  error: " + j.error());
        }
        for (JobDocument.Disk d : j.disks()) {
            out.printf(Locale.ROOT, "  disk %-10s %-10s %7.2f%%  %s / %s  mode %s  checkpoint %d  retries %d%n",
                    d.id(), d.status(), d.progressPercent(), HumanBytes.format(d.bytesTransferred()),
                    HumanBytes.format(d.totalBytes()), d.mode(), d.checkpoint(), d.retries());
            out.printf("       %s -> %s%n", d.source(), d.target());
            if (d.modeReason() != null) {
                out.println("       " + d.modeReason());
            }
            if (d.changeToken() != null) {
                out.println("       change token " + d.changeToken());
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

    static Map<String, Object> json(JobDocument j) {
        return org.blockferry.api.http.JobDocuments.of(j);
    }
}
