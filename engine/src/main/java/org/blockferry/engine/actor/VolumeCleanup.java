package org.blockferry.engine.actor;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.Scheduler;
import org.blockferry.engine.cloudstack.Cloud;
import org.blockferry.engine.cloudstack.CloudStackApi;
import org.blockferry.engine.cloudstack.Volume;
import org.blockferry.engine.endpoint.DiskLocation;
import org.blockferry.engine.job.DiskState;
import org.blockferry.engine.job.JobState;
import org.blockferry.engine.job.JobState.JobStatus;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * After a failed or cancelled first sync to a CloudStack target: the volumes this job created
 * are detached and deleted (unless {@code options.keep_volumes}), each recorded as deleted by its
 * target before the job gives the targets' leases back. Only a volume whose target says this job
 * created it is touched; a later sync's failure leaves the volume and its lineage alone.
 */
final class VolumeCleanup {
    private static final Logger log = LoggerFactory.getLogger(VolumeCleanup.class);

    private VolumeCleanup() {
    }

    /** Whether {@code state}'s end calls for a cleanup. */
    static boolean needed(JobState state) {
        return state.spec() != null && state.spec().cloudTarget() && !state.spec().options().keepVolumes()
                && (state.status() == JobStatus.FAILED || state.status() == JobStatus.CANCELLED)
                // a failed cutover is not a failed sync: every byte is on the volumes
                && state.disks().values().stream().anyMatch(d -> d.status() != JobState.DiskStatus.COMPLETED);
    }

    /** Deletes the job's own volumes; never fails (what it could not do is logged, the volume kept). */
    static CompletionStage<Void> run(JobState state, JobRuntime runtime, Scheduler scheduler) {
        List<DiskState> disks = new ArrayList<>(state.disks().values());
        return CompletableFuture.runAsync(() -> {
            for (DiskState disk : disks) {
                try {
                    deleteIfCreatedBy(state.jobId(), disk, runtime, scheduler);
                } catch (IOException | RuntimeException e) {
                    log.warn("event=volume-cleanup-failed job={} disk={} cause={}", state.jobId(), disk.id(),
                            FailureBudget.reasonOf(e));
                }
            }
        }, runtime.copy().blocking());
    }

    private static void deleteIfCreatedBy(String jobId, DiskState disk, JobRuntime runtime, Scheduler scheduler)
            throws IOException {
        if (!(DiskLocation.parse("target", disk.target()) instanceof DiskLocation.CloudVolume location)) {
            return;
        }
        TargetActor.Lineage lineage = TargetQueries.lineage(runtime.peers(), scheduler, jobId, disk.identities());
        TargetState.Volume volume = lineage.volume();
        if (!lineage.writer() || volume == null || !jobId.equals(volume.createdBy()) || volume.handedTo() != null) {
            return;
        }
        Cloud cloud = runtime.clouds().named("target.cloud", location.cloud());
        CloudStackApi api = CloudStackApi.open(cloud);
        Optional<Volume> now = api.volume(volume.id());
        if (now.isPresent()) {
            String vm = now.get().virtualMachineId();
            if (vm != null && !vm.equals(volume.attachedTo())) {
                log.warn("event=volume-kept job={} disk={} volume={} attached_to={} reason=not-attached-by-blockferry",
                        jobId, disk.id(), volume.id(), vm);
                return;
            }
            if (vm != null) {
                api.detachVerified(volume.id());
            }
            api.deleteVolume(volume.id());
        }
        TargetQueries.recordVolume(runtime.peers(), scheduler, jobId, disk.identities().target(),
                new TargetState.VolumeDeleted());
        log.info("event=volume-deleted job={} disk={} volume={} name={}", jobId, disk.id(), volume.id(),
                location.name());
    }

}
