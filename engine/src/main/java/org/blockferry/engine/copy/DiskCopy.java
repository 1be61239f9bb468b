package org.blockferry.engine.copy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.Done;
import org.apache.pekko.actor.Cancellable;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.KillSwitches;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.UniqueKillSwitch;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.blockferry.engine.copy.CopyProgress.Phase;
import org.blockferry.engine.endpoint.EndpointException;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.plan.AllocationMap;
import org.blockferry.engine.plan.DiskPlan;
import org.blockferry.engine.plan.ResumePoint;
import org.blockferry.nbd.AsyncConnection;
import org.blockferry.nbd.BlockSize;
import org.blockferry.nbd.NbdConnection;
import org.blockferry.nbd.NbdException;
import org.blockferry.nbd.NbdOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One disk being copied: plan, then a Pekko Streams pipeline
 * {@code chunks -> read -> zero-detect -> write/zero -> progress}, then a flush.
 *
 * <p>Memory is bounded by the shared {@link BufferPool} (a chunk cannot be read before it has a
 * buffer, so a slow target slows the reads). The target is flushed every checkpoint interval and
 * at the end; the checkpoint only moves after a flush. {@link #cancel()} stops the stream, waits
 * for requests in flight, flushes what was written and closes the connections.
 */
public final class DiskCopy {
    private static final Logger log = LoggerFactory.getLogger(DiskCopy.class);

    private final CopyJob job;
    private final CopyEnvironment env;
    private final ProgressTracker tracker;
    private final RunResources resources = new RunResources();
    private final RequestRetries retries = new RequestRetries();
    private final CompletableFuture<CopyResult> result = new CompletableFuture<>();
    private final List<NbdConnection> opened = new ArrayList<>();
    private volatile boolean cancelRequested;
    private volatile UniqueKillSwitch killSwitch;
    private volatile Cancellable progressTimer;
    private CopyConnections connections;
    private ChunkWriter writer;
    private DiskPlan plan;
    private long startNanos;
    private long targetKnownZero;
    private int requestSize;
    private volatile boolean checkpointFlushRunning;

    private DiskCopy(CopyJob job, CopyEnvironment env) {
        this.job = job;
        this.env = env;
        this.tracker = new ProgressTracker(job.disk(), retries::count);
    }

    /** Starts copying; setup (connections, planning) runs on the environment's blocking pool. */
    public static DiskCopy start(CopyJob job, CopyEnvironment env) {
        DiskCopy copy = new DiskCopy(job, env);
        env.blocking().execute(copy::setUp);
        return copy;
    }

    /** Completes with the result, or fails with the cause ({@link CopyCancelledException} on cancel). */
    public CompletionStage<CopyResult> result() {
        return result;
    }

    /** Progress right now. */
    public CopyProgress progress() {
        return tracker.snapshot();
    }

    /** Stops the copy; what was written is flushed. The result fails with {@link CopyCancelledException}. */
    public void cancel() {
        cancelRequested = true;
        UniqueKillSwitch ks = killSwitch;
        if (ks != null) {
            ks.abort(new CopyCancelledException(job.disk()));
        }
    }

    // ---- setup, on a blocking thread ----

    private void setUp() {
        try {
            startNanos = System.nanoTime();
            CopySettings settings = job.settings();
            NbdConnection source = openFirst("source", job.source().uri(), job.source().options(),
                    job.source().describe(), "src");
            NbdConnection target = openFirst("target", job.target().uri(), job.target().options(),
                    job.target().describe(), "dst");
            checkTarget(source, target);
            DiskPlan full = job.source().plan(source);
            plan = full.from(job.resume().offset());
            TargetZeroMap zeroMap = targetZeroMap(target, full.capacity());
            targetKnownZero = zeroMap.zeroBytes();
            requestSize = effectiveRequestSize(settings.requestSize(), source, target);
            int sourceCount = source.canMultiConn() ? settings.connections() : 1;
            int targetCount = target.canMultiConn() ? settings.connections() : 1;
            // the other connections of both sides open at once: each handshake is a few round trips
            List<CompletableFuture<NbdConnection>> moreSources = more(sourceCount, job.source().uri(),
                    job.source().options(), "src");
            List<CompletableFuture<NbdConnection>> moreTargets = more(targetCount, job.target().uri(),
                    job.target().options(), "dst");
            List<CompletableFuture<NbdConnection>> all = new ArrayList<>(moreSources);
            all.addAll(moreTargets);
            // every one opened or failed before any failure is reported: finish() closes what
            // is in `opened`, and none may open after that
            CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).handle((v, e) -> null).join();
            connections = attach(joined(source, moreSources), joined(target, moreTargets));
            long alreadyDone = full.plannedBytes() - plan.plannedBytes();
            tracker.planned(full.capacity(), full.plannedBytes(), alreadyDone, job.resume());
            log.info("event=copy-planned disk={} capacity={} planned={} skipped={} extents={} resume_from={} "
                            + "target_known_zero={} request_size={} source_connections={} target_connections={}",
                    job.disk(), full.capacity(), full.plannedBytes(), full.skippedBytes(), full.extents().size(),
                    job.resume().offset(), targetKnownZero, requestSize, sourceCount, targetCount);
            job.listener().accept(tracker.snapshot()); // planned: listeners learn the total at once
            if (cancelRequested) {
                finish(new CopyCancelledException(job.disk()));
                return;
            }
            runPipeline(zeroMap);
        } catch (Throwable e) {
            finish(e);
        }
    }

    private NbdConnection openFirst(String field, String uri, NbdOptions options, String display, String side)
            throws EndpointException {
        try {
            return open(uri, options, side, 0);
        } catch (NbdException e) {
            throw new EndpointException(field, display, e);
        }
    }

    private NbdConnection open(String uri, NbdOptions options, String side, int index) throws NbdException {
        NbdConnection c = NbdConnection.open(uri, options.withHandleName(job.disk() + "-" + side + "-" + index));
        synchronized (opened) {
            opened.add(c);
        }
        return c;
    }

    private void checkTarget(NbdConnection source, NbdConnection target) {
        if (target.isReadOnly()) {
            throw new InvalidInputException("target", job.target().describe() + " is read-only");
        }
        if (target.size() < source.size()) {
            throw new InvalidInputException("target", job.target().describe() + " is smaller than the source ("
                    + target.size() + " < " + source.size() + " bytes)");
        }
    }

    private TargetZeroMap targetZeroMap(NbdConnection target, long size) throws NbdException {
        if (job.settings().targetIsZero() || job.target().createdFresh()) {
            return TargetZeroMap.all(size);
        }
        return TargetZeroMap.fromAllocation(AllocationMap.read(target, size));
    }

    private static int effectiveRequestSize(int wanted, NbdConnection source, NbdConnection target)
            throws NbdException {
        long size = wanted;
        for (NbdConnection c : List.of(source, target)) {
            long max = c.blockSize(BlockSize.MAXIMUM);
            if (max > 0) {
                size = Math.min(size, max);
            }
        }
        return (int) size;
    }

    /** Connections 1 .. count-1 of a side, opening on the connector's threads. */
    private List<CompletableFuture<NbdConnection>> more(int count, String uri, NbdOptions options, String side) {
        List<CompletableFuture<NbdConnection>> all = new ArrayList<>();
        for (int i = 1; i < count; i++) {
            int index = i;
            all.add(CompletableFuture.supplyAsync(() -> {
                try {
                    return open(uri, options, side, index);
                } catch (NbdException e) {
                    throw new CompletionException(e);
                }
            }, env.loops().connector()));
        }
        return all;
    }

    /** {@code first} and the others (all settled), or the first failure among them. */
    private static List<NbdConnection> joined(NbdConnection first, List<CompletableFuture<NbdConnection>> others)
            throws NbdException {
        List<NbdConnection> all = new ArrayList<>(List.of(first));
        for (CompletableFuture<NbdConnection> f : others) {
            try {
                all.add(f.join());
            } catch (CompletionException e) {
                if (e.getCause() instanceof NbdException nbd) {
                    throw nbd;
                }
                throw e;
            }
        }
        return all;
    }

    private CopyConnections attach(List<NbdConnection> sources, List<NbdConnection> targets) throws NbdException {
        int offset = env.loops().nextOffset();
        List<AsyncConnection> s = new ArrayList<>();
        List<AsyncConnection> t = new ArrayList<>();
        for (int i = 0; i < sources.size(); i++) {
            s.add(env.loops().forLane(i, offset).attach(sources.get(i)));
        }
        for (int i = 0; i < targets.size(); i++) {
            t.add(env.loops().forLane(i, offset).attach(targets.get(i)));
        }
        synchronized (opened) {
            opened.clear(); // the loops own them now
        }
        return new CopyConnections(s, t);
    }

    // ---- the pipeline ----

    private void runPipeline(TargetZeroMap zeroMap) {
        int chunkSize = Math.min(job.settings().chunkSize(), env.pool().bufferSize());
        int inFlight = job.settings().chunksInFlight();
        writer = new ChunkWriter(connections, zeroMap, requestSize, retries, job.fence());
        ChunkCopier copier = new ChunkCopier(connections, env.pool().window(inFlight),
                new ZeroDetector(job.settings().zeroSegment()), writer, resources, requestSize, retries);

        // chunks -> read, zero-detect, write (per piece, see ChunkCopier) -> progress, in disk order
        Pair<UniqueKillSwitch, CompletionStage<Done>> running = Source.fromIterator(() -> plan.chunks(chunkSize))
                .viaMat(KillSwitches.single(), Keep.right())
                .mapAsync(inFlight, copier::copy)
                .toMat(Sink.foreach(this::chunkDone), Keep.both())
                .run(Materializer.matFromSystem(env.system()));
        killSwitch = running.first();
        if (cancelRequested) {
            cancel();
        }
        Duration every = job.settings().progressInterval();
        progressTimer = env.system().scheduler().scheduleAtFixedRate(every, every,
                () -> job.listener().accept(tracker.snapshot()), env.system().executionContext());
        running.second().whenComplete((done, failure) -> finish(failure));
    }

    private void chunkDone(ChunkWriter.Done done) {
        tracker.chunkDone(done);
        ResumePoint position = tracker.position();
        if (!checkpointFlushRunning && position.offset() - tracker.checkpoint() >= job.settings().checkpointInterval()) {
            checkpointFlushRunning = true;
            long flushStart = System.nanoTime();
            resources.start(null, connections::flushTargets).whenComplete((v, e) -> {
                log.debug("event=checkpoint-flush disk={} position={} ms={}", job.disk(), position,
                        (System.nanoTime() - flushStart) / 1_000_000);
                if (e == null) {
                    tracker.flushedUpTo(position);
                    job.listener().accept(tracker.snapshot()); // a new checkpoint is reported at once
                }
                checkpointFlushRunning = false;
            });
        }
    }

    // ---- the end, success or not ----

    private void finish(Throwable failure) {
        resources.stop();
        Throwable cause = unwrap(failure);
        if (cause == null && cancelRequested) {
            cause = new CopyCancelledException(job.disk());
        }
        Cancellable timer = progressTimer;
        if (timer != null) {
            timer.cancel();
        }
        if (connections == null) {
            tracker.phase(Phase.STOPPED);
            closeOpened();
            completeWith(cause);
            return;
        }
        Throwable outcome = cause;
        tracker.phase(Phase.FLUSHING);
        resources.settled()
                .thenCompose(v -> connections.flushTargets())
                .handle((v, flushError) -> {
                    if (flushError == null) {
                        // Every chunk below the contiguous position is written; now it is durable.
                        tracker.flushedUpTo(outcome == null ? finalPoint() : tracker.position());
                    }
                    tracker.phase(outcome == null && flushError == null ? Phase.DONE : Phase.STOPPED);
                    return flushError;
                })
                .thenCompose(flushError -> connections.closeAll().handle((v, e) -> flushError))
                .whenComplete((flushError, e) -> {
                    resources.releaseAll();
                    if (writer != null) {
                        writer.close();
                    }
                    Throwable last = outcome != null ? outcome : unwrap(flushError);
                    completeWith(last);
                });
    }

    /** The end of the run: the checkpoint covers the whole plan (and the disk, for a full copy). */
    private ResumePoint finalPoint() {
        ResumePoint p = tracker.position();
        return new ResumePoint(Math.max(plan.end(), p.offset()), p.bytesDone(), p.bytesWritten(), p.bytesZeroed(),
                p.bytesSkipped(), p.zeroSentBytes());
    }

    private void completeWith(Throwable cause) {
        CopyProgress progress = tracker.snapshot();
        try {
            job.listener().accept(progress);
        } catch (RuntimeException e) {
            log.warn("event=progress-listener-failed disk={} error={}", job.disk(), e.toString());
        }
        double seconds = (System.nanoTime() - startNanos) / 1e9;
        if (cause != null) {
            log.info("event=copy-stopped disk={} done={} planned={} checkpoint={} cause={}", job.disk(),
                    progress.bytesDone(), progress.plannedBytes(), progress.checkpoint(), cause.toString());
            result.completeExceptionally(cause);
            return;
        }
        log.info("event=copy-completed disk={} planned={} written={} zeroed={} skipped={} zero_sent={} seconds={}",
                job.disk(), progress.plannedBytes(), progress.bytesWritten(), progress.bytesZeroed(),
                progress.bytesSkipped(), progress.zeroSentBytes(), String.format("%.3f", seconds));
        result.complete(new CopyResult(progress, connections.sourceCount(), connections.targetCount(), requestSize,
                progress.zeroSentBytes(), targetKnownZero, seconds));
    }

    private void closeOpened() {
        synchronized (opened) {
            opened.forEach(NbdConnection::close);
            opened.clear();
        }
    }

    private static Throwable unwrap(Throwable t) {
        while (t instanceof CompletionException && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }

    /** Waits for the result (for the CLI and tests). */
    public CopyResult await(Duration timeout) throws Exception {
        try {
            return result.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof Exception ex) {
                throw ex;
            }
            throw e;
        }
    }
}
