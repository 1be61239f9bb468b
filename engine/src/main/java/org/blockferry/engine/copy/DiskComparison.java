package org.blockferry.engine.copy;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.blockferry.engine.plan.AllocationMap;
import org.blockferry.engine.plan.Extent;
import org.blockferry.engine.source.DiskSource;
import org.blockferry.nbd.AsyncConnection;
import org.blockferry.nbd.NbdBuffer;
import org.blockferry.nbd.NbdConnection;
import org.blockferry.nbd.NbdException;

/**
 * Compares a target with its source, reading only what must be read: both sides where the
 * source has data, only the target where the source reads as zeros, nothing where both report
 * zeros. Stops at the first difference and reports its exact byte offset.
 */
public final class DiskComparison {

    /**
     * @param firstDifference byte offset of the first difference, -1 when equal
     * @param bytesRead bytes read from both sides together
     * @param note anything an operator should know (sizes differ), or empty
     */
    public record Outcome(boolean equal, long firstDifference, long sourceSize, long targetSize, long bytesRead,
                          String note) {
    }

    /** One range to check: read both sides, or only the target (which must be zeros). */
    private record Window(long offset, int length, boolean sourceData) {
    }

    private DiskComparison() {
    }

    /** Compares {@code target} with {@code source}; both are only read. */
    public static CompletionStage<Outcome> run(DiskSource source, DiskSource target, CopySettings settings,
                                               CopyEnvironment env) {
        return CompletableFuture.supplyAsync(() -> open(source, target), env.blocking())
                .thenCompose(opened -> opened.compare(settings, env));
    }

    private static Opened open(DiskSource source, DiskSource target) {
        List<NbdConnection> all = new ArrayList<>();
        try {
            NbdConnection a = NbdConnection.open(source.uri(), source.options().withHandleName("verify-src"));
            all.add(a);
            NbdConnection b = NbdConnection.open(target.uri(), target.options().withHandleName("verify-dst"));
            all.add(b);
            long size = Math.min(a.size(), b.size());
            List<Extent> sourceExtents = AllocationMap.read(a, size);
            TargetZeroMap targetZeros = TargetZeroMap.fromAllocation(AllocationMap.read(b, size));
            return new Opened(source, target, a, b, sourceExtents, targetZeros);
        } catch (NbdException | RuntimeException e) {
            all.forEach(NbdConnection::close);
            throw new CompletionException(e);
        }
    }

    private record Opened(DiskSource source, DiskSource target, NbdConnection a, NbdConnection b,
                          List<Extent> sourceExtents, TargetZeroMap targetZeros) {

        CompletionStage<Outcome> compare(CopySettings settings, CopyEnvironment env) {
            long sourceSize = a.size();
            long targetSize = b.size();
            long size = Math.min(sourceSize, targetSize);
            String note = targetSize > sourceSize
                    ? "the target is " + (targetSize - sourceSize) + " bytes larger than the source; those bytes were not compared"
                    : "";
            int windowSize = Math.min(settings.chunkSize(), env.pool().bufferSize());
            int requestSize = settings.requestSize();
            CopyConnections connections;
            try {
                connections = new CopyConnections(attach(env, a, source, settings),
                        attach(env, b, target, settings));
            } catch (NbdException e) {
                a.close();
                b.close();
                return CompletableFuture.failedFuture(e);
            }
            RunResources resources = new RunResources();
            long[] bytesRead = {0};
            int parallel = Math.max(1, env.pool().capacity() / 2);
            CompletionStage<Optional<Long>> firstDifference = Source.fromIterator(() -> windows(size, windowSize))
                    .mapAsync(parallel, w -> read(w, connections, env.pool(), resources, requestSize))
                    .map(read -> {
                        bytesRead[0] += read.window().length() * (read.window().sourceData() ? 2L : 1L);
                        long at = difference(read);
                        resources.release(read.lease());
                        return at;
                    })
                    .filter(at -> at >= 0)
                    .runWith(Sink.headOption(), Materializer.matFromSystem(env.system()));
            return firstDifference.handle((found, failure) -> {
                connections.closeAll().join();
                resources.releaseAll();
                if (failure != null) {
                    throw new CompletionException(failure);
                }
                if (found.isPresent()) {
                    return new Outcome(false, found.get(), sourceSize, targetSize, bytesRead[0], note);
                }
                if (targetSize < sourceSize) {
                    return new Outcome(false, targetSize, sourceSize, targetSize, bytesRead[0],
                            "the target is smaller than the source (" + targetSize + " < " + sourceSize + " bytes)");
                }
                return new Outcome(true, -1, sourceSize, targetSize, bytesRead[0], note);
            });
        }

        private Iterator<Window> windows(long size, int windowSize) {
            List<Window> out = new ArrayList<>();
            for (Extent e : sourceExtents) {
                if (e.offset() >= size) {
                    break;
                }
                long end = Math.min(e.end(), size);
                if (e.kind().mustRead()) {
                    split(e.offset(), end, windowSize, true, out);
                } else {
                    targetZeros.forEachNonZero(e.offset(), end - e.offset(),
                            (offset, length) -> split(offset, offset + length, windowSize, false, out));
                }
            }
            return out.iterator();
        }
    }

    private static void split(long from, long to, int windowSize, boolean sourceData, List<Window> out) {
        for (long offset = from; offset < to; ) {
            int length = (int) Math.min(to - offset, RequestSplitter.nextBoundary(offset, windowSize) - offset);
            out.add(new Window(offset, length, sourceData));
            offset += length;
        }
    }

    private static List<AsyncConnection> attach(CopyEnvironment env, NbdConnection first, DiskSource side,
                                                CopySettings settings) throws NbdException {
        int count = first.canMultiConn() ? settings.connections() : 1;
        int offset = env.loops().nextOffset();
        List<AsyncConnection> out = new ArrayList<>();
        out.add(env.loops().forLane(0, offset).attach(first));
        for (int i = 1; i < count; i++) {
            NbdConnection c = NbdConnection.open(side.uri(), side.options().withHandleName("verify-" + i));
            out.add(env.loops().forLane(i, offset).attach(c));
        }
        return out;
    }

    private record Read(Window window, BufferPool.Lease lease) {
    }

    private static CompletableFuture<Read> read(Window w, CopyConnections connections, BufferPool pool,
                                                RunResources resources, int requestSize) {
        return pool.acquire(2).thenCompose(lease -> resources.start(lease, () -> {
            List<CompletableFuture<Void>> reads = new ArrayList<>();
            if (w.sourceData()) {
                readRange(w, lease.buffer(0), requestSize, reads, connections, true);
            }
            readRange(w, lease.buffer(1), requestSize, reads, connections, false);
            return CompletableFuture.allOf(reads.toArray(CompletableFuture[]::new));
        }).thenApply(v -> new Read(w, lease)));
    }

    private static void readRange(Window w, NbdBuffer buffer, int requestSize, List<CompletableFuture<Void>> reads,
                                  CopyConnections connections, boolean source) {
        long offset = w.offset();
        long end = offset + w.length();
        int at = 0;
        while (offset < end) {
            int length = (int) Math.min(end - offset, RequestSplitter.nextBoundary(offset, requestSize) - offset);
            AsyncConnection c = source ? connections.nextSource() : connections.nextTarget();
            reads.add(c.pread(buffer, at, length, offset));
            at += length;
            offset += length;
        }
    }

    /** The disk offset of the first differing byte in the window, or -1. */
    private static long difference(Read read) {
        Window w = read.window();
        ByteBuffer target = read.lease().buffer(1).slice(0, w.length());
        if (w.sourceData()) {
            ByteBuffer source = read.lease().buffer(0).slice(0, w.length());
            int at = source.mismatch(target);
            return at < 0 ? -1 : w.offset() + at;
        }
        int at = ZeroDetector.firstNonZero(target, 0, w.length());
        return at < 0 ? -1 : w.offset() + at;
    }
}
