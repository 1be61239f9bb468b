package org.blockferry.api.http;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;

/**
 * How many event streams this node serves at once ({@code blockferry.http.sse.max-connections}):
 * a stream holds a slot from the moment it is granted until it ends, however it ends.
 */
final class StreamSlots {
    /** A granted stream whose response was never sent (its client left first) gives its slot back after this. */
    private static final Duration UNSTARTED = Duration.ofSeconds(30);

    private final ActorSystem<?> system;
    private final int max;
    private final AtomicInteger open = new AtomicInteger();

    StreamSlots(ActorSystem<?> system, int max) {
        this.system = system;
        this.max = max;
    }

    int max() {
        return max;
    }

    int open() {
        return open.get();
    }

    /**
     * {@code stream} holding a slot until it ends, or {@code null} when every slot is taken.
     */
    Source<ByteString, NotUsed> tryHold(Source<ByteString, NotUsed> stream) {
        if (open.incrementAndGet() > max) {
            open.decrementAndGet();
            return null;
        }
        AtomicBoolean released = new AtomicBoolean();
        AtomicBoolean started = new AtomicBoolean();
        Runnable release = () -> {
            if (released.compareAndSet(false, true)) {
                open.decrementAndGet();
            }
        };
        system.scheduler().scheduleOnce(UNSTARTED, () -> {
            if (!started.get()) {
                release.run();
            }
        }, system.executionContext());
        return stream.watchTermination((mat, done) -> {
            started.set(true);
            done.whenComplete((d, e) -> release.run());
            return mat;
        });
    }
}
