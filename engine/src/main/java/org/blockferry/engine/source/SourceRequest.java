package org.blockferry.engine.source;

import java.util.Optional;
import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.plan.CopyMode;

/**
 * What opening one disk's source for one sync needs to know: the job, the disk, where the job's
 * disks come from, the mode asked for, the change token the target's lineage holds for this
 * source, and the target as the lineage knows it.
 *
 * @param previous          the token of the last completed sync from this source to this target
 * @param targetIdentity    the target's identity (two spellings of one target share it)
 * @param targetFingerprint which incarnation of the target (a replaced file is another one)
 */
public record SourceRequest(String jobId, JobSpec.Disk disk, JobSpec.Source source, CopyMode requested,
                            boolean finalSync, Optional<ChangeToken> previous, String targetIdentity,
                            String targetFingerprint) {

    /** The field operators read in errors about this disk's source. */
    public String field() {
        return "disk " + disk.id() + " source";
    }
}
