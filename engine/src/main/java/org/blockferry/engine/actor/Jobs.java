package org.blockferry.engine.actor;

import java.time.Duration;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityRef;
import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.job.JobState;

/** Talks to job entities wherever they run in the cluster: submit, look, cancel, wake. */
public final class Jobs {
    private final ClusterSharding sharding;
    private final Duration timeout;

    public Jobs(ActorSystem<?> system, Duration timeout) {
        this.sharding = ClusterSharding.get(system);
        this.timeout = timeout;
    }

    private EntityRef<JobActor.Command> job(String jobId) {
        return sharding.entityRefFor(JobActor.TYPE_KEY, jobId);
    }

    /** Submits a validated spec ({@link JobSpec#validated()}). */
    public CompletionStage<JobReply> submit(JobSpec spec) {
        return job(spec.jobId()).ask(replyTo -> new JobActor.Submit(spec, replyTo), timeout);
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
