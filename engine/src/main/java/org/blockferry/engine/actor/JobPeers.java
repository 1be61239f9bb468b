package org.blockferry.engine.actor;

import java.time.Duration;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.RecipientRef;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.blockferry.engine.copy.WriteFence;
import org.blockferry.engine.job.JobState;

/**
 * The actors a job talks to, wherever they run: the locations it reads and writes
 * ({@link TargetActor}s), this node's running slots ({@link RunSlots}), and what runs its disks
 * ({@link VmActor}). Production wires them to cluster sharding; the actors' unit tests to probes.
 */
public interface JobPeers {

    /** The entity of the location with this identity. */
    RecipientRef<TargetActor.Command> location(String identity);

    /** This node's running slots. */
    ActorRef<RunSlots.Command> slots();

    /** Another job's entity, wherever it runs (a waiting job reminds the holder of its lease). */
    RecipientRef<JobActor.Command> job(String jobId);

    /**
     * What runs the disks of a job that starts (or resumes) in {@code state}; they write only
     * while {@code fence} is open.
     */
    Behavior<VmActor.Command> disks(JobState state, ActorRef<JobActor.Command> job, JobRuntime runtime,
                                    WriteFence fence);

    /** How long an ask to a peer may take. */
    default Duration askTimeout() {
        return Duration.ofSeconds(30);
    }

    /** The peers of a node: sharded locations, the node's slots (started by {@link RunSlots#start}), VmActors. */
    static JobPeers sharded(ActorSystem<?> system) {
        ClusterSharding sharding = ClusterSharding.get(system);
        return new JobPeers() {
            @Override
            public RecipientRef<TargetActor.Command> location(String identity) {
                return sharding.entityRefFor(TargetActor.TYPE_KEY, TargetActor.entityId(identity));
            }

            @Override
            public ActorRef<RunSlots.Command> slots() {
                return RunSlots.of(system);
            }

            @Override
            public RecipientRef<JobActor.Command> job(String jobId) {
                return sharding.entityRefFor(JobActor.TYPE_KEY, jobId);
            }

            @Override
            public Behavior<VmActor.Command> disks(JobState state, ActorRef<JobActor.Command> job, JobRuntime runtime,
                                                   WriteFence fence) {
                return VmActor.create(state, job, runtime, fence);
            }
        };
    }

    /** How locations tell jobs about their leases: through sharding, to the job's entity. */
    static TargetActor.JobNotifier notifier(ActorSystem<?> system) {
        ClusterSharding sharding = ClusterSharding.get(system);
        return new TargetActor.JobNotifier() {
            @Override
            public void granted(String jobId, String location) {
                sharding.entityRefFor(JobActor.TYPE_KEY, jobId).tell(new JobActor.LeaseGranted(location));
            }

            @Override
            public void queued(String jobId, String location, String holder) {
                sharding.entityRefFor(JobActor.TYPE_KEY, jobId).tell(new JobActor.LeaseQueued(location, holder));
            }
        };
    }
}
