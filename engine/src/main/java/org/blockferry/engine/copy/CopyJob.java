package org.blockferry.engine.copy;

import java.util.function.Consumer;
import org.blockferry.engine.plan.ResumePoint;
import org.blockferry.engine.source.DiskSource;
import org.blockferry.engine.target.DiskTarget;

/**
 * What to copy for one disk: source (which plans the run), target, settings, where to resume,
 * and who hears about progress. The source and target stay the caller's: a copy never closes them.
 *
 * @param disk the disk's name in progress and messages
 * @param resume the checkpoint of an earlier attempt: planned bytes below it are not copied again
 * @param listener receives progress at most every {@code settings.progressInterval()}, and once at the end
 * @param fence checked right before each write or zero request is issued to the target
 */
public record CopyJob(String disk, DiskSource source, DiskTarget target, CopySettings settings,
                      ResumePoint resume, Consumer<CopyProgress> listener, WriteFence fence) {

    public CopyJob {
        if (resume == null) {
            throw new IllegalArgumentException("resume point is required (ResumePoint.START for a new copy)");
        }
        if (fence == null) {
            throw new IllegalArgumentException("fence is required (WriteFence.OPEN for one process alone)");
        }
    }

    /** A copy without a fence (one process alone). */
    public CopyJob(String disk, DiskSource source, DiskTarget target, CopySettings settings, ResumePoint resume,
                   Consumer<CopyProgress> listener) {
        this(disk, source, target, settings, resume, listener, WriteFence.OPEN);
    }

    /** A copy from the start (full, for a plain source). */
    public static CopyJob full(String disk, DiskSource source, DiskTarget target, CopySettings settings,
                               Consumer<CopyProgress> listener) {
        return new CopyJob(disk, source, target, settings, ResumePoint.START, listener);
    }
}
