package org.blockferry.engine.copy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.blockferry.nbd.AsyncConnection;

/**
 * The NBD connections of one copy: several to the source and to the target when the servers
 * allow multi-conn. Requests are spread round robin.
 */
final class CopyConnections {
    private final List<AsyncConnection> sources;
    private final List<AsyncConnection> targets;
    private final java.util.concurrent.atomic.AtomicInteger nextSource = new java.util.concurrent.atomic.AtomicInteger();
    private final java.util.concurrent.atomic.AtomicInteger nextTarget = new java.util.concurrent.atomic.AtomicInteger();

    CopyConnections(List<AsyncConnection> sources, List<AsyncConnection> targets) {
        this.sources = List.copyOf(sources);
        this.targets = List.copyOf(targets);
    }

    /** Round robin; safe from any thread (pieces are dispatched from the I/O threads). */
    AsyncConnection nextSource() {
        return sources.get(Math.floorMod(nextSource.getAndIncrement(), sources.size()));
    }

    AsyncConnection nextTarget() {
        return targets.get(Math.floorMod(nextTarget.getAndIncrement(), targets.size()));
    }

    List<AsyncConnection> targets() {
        return targets;
    }

    int sourceCount() {
        return sources.size();
    }

    int targetCount() {
        return targets.size();
    }

    /** Flushes every target connection (without multi-conn each one covers only its own writes). */
    CompletableFuture<Void> flushTargets() {
        List<CompletableFuture<Void>> flushes = new ArrayList<>();
        for (AsyncConnection t : targets) {
            if (t.connection().canFlush()) {
                flushes.add(t.flush());
            }
        }
        return CompletableFuture.allOf(flushes.toArray(CompletableFuture[]::new));
    }

    /** Closes every connection; pending requests fail and release their buffers. */
    CompletableFuture<Void> closeAll() {
        List<CompletableFuture<Void>> closes = new ArrayList<>();
        for (AsyncConnection c : sources) {
            closes.add(c.close());
        }
        for (AsyncConnection c : targets) {
            closes.add(c.close());
        }
        return CompletableFuture.allOf(closes.toArray(CompletableFuture[]::new));
    }
}
