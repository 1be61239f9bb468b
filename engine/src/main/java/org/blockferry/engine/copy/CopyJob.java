package org.blockferry.engine.copy;

import java.io.IOException;
import java.util.function.Consumer;
import org.blockferry.engine.plan.DiskPlan;
import org.blockferry.engine.source.DiskSource;
import org.blockferry.engine.target.DiskTarget;
import org.blockferry.nbd.NbdConnection;

/**
 * What to copy for one disk: source, target, settings, how to plan, where to resume, and who
 * hears about progress. The source and target stay the caller's: a copy never closes them.
 *
 * @param disk the disk's name in progress and messages
 * @param resume the checkpoint of an earlier attempt: planned bytes below it are not copied again
 * @param listener receives progress at most every {@code settings.progressInterval()}, and once at the end
 */
public record CopyJob(String disk, DiskSource source, DiskTarget target, CopySettings settings, Planner planner,
                      ResumePoint resume, Consumer<CopyProgress> listener) {

    /** Decides the extents a run moves: a full plan, or the changes since a change token. */
    @FunctionalInterface
    public interface Planner {
        DiskPlan plan(DiskSource source, NbdConnection connection) throws IOException;

        Planner FULL = DiskSource::planFull;
    }

    public CopyJob {
        if (resume == null) {
            throw new IllegalArgumentException("resume point is required (ResumePoint.START for a new copy)");
        }
    }

    /** A full copy from the start. */
    public static CopyJob full(String disk, DiskSource source, DiskTarget target, CopySettings settings,
                               Consumer<CopyProgress> listener) {
        return new CopyJob(disk, source, target, settings, Planner.FULL, ResumePoint.START, listener);
    }
}
