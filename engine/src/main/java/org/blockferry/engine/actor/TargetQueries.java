package org.blockferry.engine.actor;

import java.io.IOException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Scheduler;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.japi.function.Function;

/**
 * A question to a target's {@link TargetActor} from a thread that may wait (provisioning, cleanup,
 * cutover: blocking work beside CloudStack's API), its failure an {@link IOException} naming the target.
 */
final class TargetQueries {
    private TargetQueries() {
    }

    static TargetActor.Lineage ask(JobPeers peers, Scheduler scheduler, String identity,
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
