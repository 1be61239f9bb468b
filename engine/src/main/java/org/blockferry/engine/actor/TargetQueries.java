package org.blockferry.engine.actor;

import java.io.IOException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Scheduler;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.japi.function.Function;
import org.blockferry.engine.job.JobState.DiskIdentities;

/**
 * A question to a target's {@link TargetActor} from a thread that may wait (provisioning, cleanup,
 * cutover: blocking work beside CloudStack's API), its failure an {@link IOException} naming the target.
 */
final class TargetQueries {
    private TargetQueries() {
    }

    /** The lineage of a disk's target as {@code jobId} sees it (whether it writes it, its volume). */
    static TargetActor.Lineage lineage(JobPeers peers, Scheduler scheduler, String jobId, DiskIdentities ids)
            throws IOException {
        return ask(peers, scheduler, ids.target(), r -> new TargetActor.GetLineage(jobId, ids.source(), r));
    }

    /**
     * Records a change of the target's volume; the target's volume after it. Refused (an
     * {@link IOException}) when {@code jobId} no longer holds the target's write lease.
     */
    static TargetState.Volume recordVolume(JobPeers peers, Scheduler scheduler, String jobId, String identity,
                                           TargetState.VolumeChange change) throws IOException {
        TargetActor.Lineage answer = ask(peers, scheduler, identity, r -> new TargetActor.RecordVolume(jobId, change, r));
        if (!answer.writer()) {
            throw new IOException("job " + jobId + " no longer holds the lease of target " + identity
                    + ": its volume change was not recorded");
        }
        return answer.volume();
    }

    private static TargetActor.Lineage ask(JobPeers peers, Scheduler scheduler, String identity,
                                           Function<ActorRef<TargetActor.Lineage>, TargetActor.Command> message)
            throws IOException {
        try {
            return AskPattern.ask(peers.location(identity), message, peers.askTimeout(), scheduler)
                    .toCompletableFuture().get(peers.askTimeout().toMillis() + 1000, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while asking target " + identity, e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IOException("cannot reach target " + identity + ": " + FailureBudget.reasonOf(
                    FailureBudget.unwrap(e.getCause() != null ? e.getCause() : e)), e);
        }
    }
}
