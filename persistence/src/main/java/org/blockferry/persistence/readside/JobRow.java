package org.blockferry.persistence.readside;

import java.time.OffsetDateTime;
import java.util.List;

/** A job as the read side has it, with its disks in submission order. */
public record JobRow(String jobId, String vm, String status, String mode, long totalBytes, long bytesTransferred,
                     long bytesWritten, long bytesZeroed, long bytesSkipped, double progressPercent,
                     double throughputBps, long etaSeconds, int retries, String error, String spec,
                     OffsetDateTime submittedAt, OffsetDateTime startedAt, OffsetDateTime finishedAt,
                     OffsetDateTime updatedAt, List<DiskRow> disks) {

    /** One disk of a job. */
    public record DiskRow(String diskId, String source, String target, String status, String mode, String modeReason,
                          long capacity, long totalBytes, long bytesTransferred, long bytesWritten, long bytesZeroed,
                          long bytesSkipped, long checkpoint, double progressPercent, double throughputBps,
                          long etaSeconds, int retries, int resumes, long bytesRecopied, String changeToken,
                          String error) {
    }

    public boolean isFinal() {
        return status.equals("completed") || status.equals("failed") || status.equals("cancelled");
    }
}
