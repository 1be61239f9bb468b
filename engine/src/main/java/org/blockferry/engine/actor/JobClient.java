package org.blockferry.engine.actor;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityRef;
import org.blockferry.engine.actor.TargetState.Role;
import org.blockferry.engine.cluster.PlacementGate;
import org.blockferry.engine.endpoint.DiskLocation;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.endpoint.StoragePolicy;
import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.job.JobState.DiskIdentities;
import org.blockferry.engine.job.JobState;

/**
 * The door to the job entities, wherever they run in the cluster: submit (after checking what
 * the job's disks read and write), look, cancel, wake.
 */
public final class JobClient {
    /** A turn in the line of new jobs' first steps lasts this long at most ({@link PlacementGate}). */
    private static final Duration FIRST_STEP_TURN = Duration.ofSeconds(2);

    private final ActorSystem<?> system;
    private final ClusterSharding sharding;
    private final Duration timeout;
    private final StoragePolicy storage;
    private final PlacementGate placements;

    /**
     * {@code storage}: what the node's jobs may read and write, checked at submission (and again
     * at use); {@code startingAtOnce}: new jobs whose entity this node's submissions start at once.
     */
    public JobClient(ActorSystem<?> system, Duration timeout, StoragePolicy storage, int startingAtOnce) {
        this.system = system;
        this.placements = new PlacementGate(startingAtOnce, FIRST_STEP_TURN);
        this.sharding = ClusterSharding.get(system);
        this.timeout = timeout;
        this.storage = storage;
    }

    private EntityRef<JobActor.Command> job(String jobId) {
        return sharding.entityRefFor(JobActor.TYPE_KEY, jobId);
    }

    /**
     * Submits a validated spec ({@link JobSpec#validated()}). Refused, naming the field: a location
     * the node's storage policy does not allow (checked first, before anything resolves or reports
     * where a path leads), a job that contradicts itself (a target that is its own source, two
     * disks with one target, under any spelling), and a target that another job which has not
     * ended reads as its source.
     */
    public CompletionStage<JobReply> submit(JobSpec spec) {
        Map<String, DiskIdentities> identities;
        try {
            checkStorage(spec);
            identities = LocationIdentities.of(spec);
            LocationIdentities.checkDistinct(spec, identities);
        } catch (InvalidInputException e) {
            return CompletableFuture.completedFuture(new JobReply.Rejected(JobReply.Reason.INVALID,
                    e.getMessage(), e.field()));
        }
        // The job's entity starts (its shard placed, its journal read) while the targets are
        // looked at, not after: a new job's submission waits for the slower of the two, not both.
        // Its start takes its turn in the node's line of first steps (PlacementGate); whether it
        // answered or not, the submission itself is asked next.
        CompletableFuture<JobState> started = placements.run(
                () -> job(spec.jobId()).ask(JobActor.Get::new, timeout)).toCompletableFuture();
        return targetsInUse(spec, identities)
                .thenCombine(started.handle((state, failure) -> state), (refused, state) -> refused)
                .thenCompose(refused -> refused != null
                        ? CompletableFuture.completedFuture(refused)
                        : job(spec.jobId()).ask(replyTo -> new JobActor.Submit(spec, identities, replyTo), timeout));
    }

    /** Every local path and NBD URI of the job, and a vmware job's mapped image directories, against the policy. */
    private void checkStorage(JobSpec spec) {
        if (!storage.restricted()) {
            return;
        }
        boolean vmware = "vmware".equals(spec.source().kind());
        for (int i = 0; i < spec.disks().size(); i++) {
            JobSpec.Disk disk = spec.disks().get(i);
            if (!vmware) {
                String field = "disks[" + i + "].source";
                storage.checkLocation(field, DiskLocation.parse(field, disk.source()), StoragePolicy.Access.READ);
            }
            String field = "disks[" + i + "].target";
            storage.checkLocation(field, DiskLocation.parse(field, disk.target()), StoragePolicy.Access.WRITE);
        }
        if (vmware && spec.source().datastoreMap() != null) {
            for (Map.Entry<String, String> e : spec.source().datastoreMap().entrySet()) {
                storage.checkDirectory("source.datastore_map[" + e.getKey() + "]", Path.of(e.getValue()));
            }
        }
    }

    /** The first target another unfinished job reads, as a refusal; null when there is none. */
    private CompletionStage<JobReply> targetsInUse(JobSpec spec, Map<String, DiskIdentities> identities) {
        List<CompletableFuture<JobReply>> checks = new ArrayList<>();
        for (int i = 0; i < spec.disks().size(); i++) {
            JobSpec.Disk disk = spec.disks().get(i);
            String field = "disks[" + i + "].target";
            String target = identities.get(disk.id()).target();
            checks.add(AskPattern.<TargetActor.Command, TargetActor.Usage>ask(
                            sharding.entityRefFor(TargetActor.TYPE_KEY, TargetActor.entityId(target)),
                            replyTo -> new TargetActor.Peek(spec.jobId(), Role.WRITE, replyTo), timeout,
                            system.scheduler())
                    .thenApply(u -> u.otherJob() == null ? (JobReply) null : new JobReply.Rejected(
                            JobReply.Reason.LOCATION_IN_USE, field + ": '" + disk.target() + "' is the source of job "
                            + u.otherJob() + ", which has not ended (" + target + ")", field))
                    .toCompletableFuture());
        }
        return CompletableFuture.allOf(checks.toArray(CompletableFuture[]::new))
                .thenApply(v -> checks.stream().map(CompletableFuture::join).filter(r -> r != null).findFirst()
                        .orElse(null));
    }

    /** The live state of a job (status NEW when there is no such job). */
    public CompletionStage<JobState> get(String jobId) {
        return job(jobId).ask(JobActor.Get::new, timeout);
    }

    public CompletionStage<JobReply> cancel(String jobId) {
        return job(jobId).ask(JobActor.Cancel::new, timeout);
    }

    /** Wakes a job after a node start so that it resumes by itself. */
    public void resume(String jobId) {
        job(jobId).tell(JobActor.Resume.INSTANCE);
    }
}
