package org.blockferry.engine.actor;

import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.blockferry.engine.copy.CopyCancelledException;
import org.blockferry.engine.copy.CopyJob;
import org.blockferry.engine.copy.CopyProgress;
import org.blockferry.engine.copy.CopyResult;
import org.blockferry.engine.copy.CopySettings;
import org.blockferry.engine.copy.DiskComparison;
import org.blockferry.engine.copy.DiskCopy;
import org.blockferry.engine.copy.ResumePoint;
import org.blockferry.engine.endpoint.DiskLocation;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.job.JobRuntime;
import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.source.NbdDiskSource;
import org.blockferry.engine.sync.DiskSync;
import org.blockferry.engine.target.NbdDiskTarget;
import org.blockferry.nbd.NbdOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One disk of a running job: opens its source and target, runs its {@link DiskCopy} (which
 * owns the NBD connections), reports planning, progress and the end to its VmActor.
 *
 * <p>A transient failure (connection refused or reset, EIO, timeout) crashes the attempt; the
 * supervisor restarts it with exponential backoff and the new attempt resumes from the last
 * flushed checkpoint. Past the retry budget the supervisor stops the actor and the VmActor
 * reports the disk failed. Bad input (a target too small, a missing file) fails at once.
 */
final class DiskActor extends AbstractBehavior<DiskActor.Command> {
    private static final Logger log = LoggerFactory.getLogger(DiskActor.class);

    sealed interface Command {
    }

    /** Stop (cancel): what was written is flushed. */
    enum Stop implements Command {
        INSTANCE
    }

    private record Opened(DiskSync sync, NbdDiskTarget target) implements Command {
    }

    private record OpenFailed(Throwable cause) implements Command {
    }

    private record Progress(CopyProgress progress) implements Command {
    }

    private record CopyEnded(CopyResult result, Throwable failure) implements Command {
    }

    private record Verified(DiskComparison.Outcome outcome, CopyResult result, Throwable failure) implements Command {
    }

    /** Crashes an attempt so that the supervisor retries it; carries the cause for the job. */
    static final class TransientDiskFault extends RuntimeException {
        private static final long serialVersionUID = 1L;

        TransientDiskFault(String message, Throwable cause) {
            super(message, cause);
        }
    }

    static Behavior<Command> create(String jobId, JobSpec.Disk disk, JobSpec spec, ResumePoint resume,
                                    ActorRef<VmActor.Command> vm, JobRuntime runtime) {
        // Shared by every attempt: the latest flushed checkpoint and the failures in a row.
        AtomicReference<ResumePoint> checkpoint = new AtomicReference<>(resume);
        FailureBudget budget = new FailureBudget(runtime.jobs().maxRetries(), runtime.jobs().retryWindow());
        Behavior<Command> attempt = Behaviors.setup(ctx ->
                new DiskActor(ctx, jobId, disk, spec, checkpoint, budget, vm, runtime));
        var jobs = runtime.jobs();
        // The actor decides when the budget is spent; the supervisor only spaces the attempts out.
        return Behaviors.supervise(attempt).onFailure(TransientDiskFault.class,
                SupervisorStrategy.restartWithBackoff(jobs.minBackoff(), jobs.maxBackoff(), 0.2)
                        .withResetBackoffAfter(jobs.retryWindow())
                        .withLoggingEnabled(false));
    }

    private final String jobId;
    private final JobSpec.Disk disk;
    private final JobSpec spec;
    private final AtomicReference<ResumePoint> checkpoint;
    private final FailureBudget budget;
    private final ActorRef<VmActor.Command> vm;
    private final JobRuntime runtime;
    private DiskSync sync;
    private NbdDiskSource source;
    private NbdDiskTarget target;
    private DiskCopy copy;
    private boolean planReported;
    private boolean stopRequested;

    private DiskActor(ActorContext<Command> context, String jobId, JobSpec.Disk disk, JobSpec spec,
                      AtomicReference<ResumePoint> checkpoint, FailureBudget budget, ActorRef<VmActor.Command> vm,
                      JobRuntime runtime) {
        super(context);
        this.jobId = jobId;
        this.disk = disk;
        this.spec = spec;
        this.checkpoint = checkpoint;
        this.budget = budget;
        this.vm = vm;
        this.runtime = runtime;
        context.pipeToSelf(CompletableFuture.supplyAsync(this::open, runtime.copy().blocking()),
                (opened, failure) -> failure == null ? opened : new OpenFailed(unwrap(failure)));
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Opened.class, this::onOpened)
                .onMessage(OpenFailed.class, f -> onFailure(f.cause()))
                .onMessage(Progress.class, this::onProgress)
                .onMessage(CopyEnded.class, this::onCopyEnded)
                .onMessage(Verified.class, this::onVerified)
                .onMessage(Stop.class, this::onStop)
                .onSignal(PostStop.class, s -> onPostStop())
                .build();
    }

    /**
     * On a blocking thread: full or incremental and why, the source (maybe a local export with
     * its bitmap), its size, then the target. Bad input fails before the target is touched.
     */
    private Opened open() {
        DiskSync prepared = null;
        try {
            var tools = runtime.copy().tools();
            prepared = DiskSync.prepare(jobId, spec, disk, runtime.tokens(), tools, runtime.copy().vmware());
            long size = prepared.source().size();
            NbdDiskTarget dst = NbdDiskTarget.open(field("target"), DiskLocation.parse(field("target"), disk.target()),
                    size, NbdOptions.DEFAULT, tools);
            return new Opened(prepared, dst);
        } catch (IOException e) {
            if (prepared != null) {
                prepared.close();
            }
            throw new CompletionException(e);
        } catch (RuntimeException e) {
            if (prepared != null) {
                prepared.close();
            }
            throw e;
        }
    }

    private String field(String side) {
        return "disk " + disk.id() + " " + side;
    }

    private Behavior<Command> onOpened(Opened o) {
        sync = o.sync();
        source = sync.source();
        target = o.target();
        if (stopRequested) {
            return Behaviors.stopped();
        }
        CopySettings settings = runtime.copySettings().withTargetIsZero(
                runtime.copySettings().targetIsZero() || spec.options().targetIsZero());
        ActorRef<Command> self = getContext().getSelf();
        copy = DiskCopy.start(new CopyJob(disk.id(), source, target, settings, sync.planner(),
                checkpoint.get(), p -> self.tell(new Progress(p))), runtime.copy());
        getContext().pipeToSelf(copy.result(), CopyEnded::new);
        return this;
    }

    private Behavior<Command> onProgress(Progress m) {
        CopyProgress p = m.progress();
        if (p.phase() == CopyProgress.Phase.PLANNING) {
            return this;
        }
        if (!planReported) {
            planReported = true;
            vm.tell(new VmActor.FromDisk(disk.id(), new JobActor.Planned(p.capacity(), p.plannedBytes(), sync.mode(),
                    sync.reason())));
        }
        checkpoint.set(p.resumePoint());
        if (p.phase() == CopyProgress.Phase.COPYING) {
            vm.tell(new VmActor.FromDisk(disk.id(), new JobActor.Progressed(p)));
        }
        return this;
    }

    private Behavior<Command> onCopyEnded(CopyEnded m) {
        copy = null;
        if (m.failure() != null) {
            return onFailure(unwrap(m.failure()));
        }
        checkpoint.set(m.result().progress().resumePoint());
        if (spec.options().verify() && !stopRequested) {
            target.close(); // a local target is compared through a read-only export
            target = null;
            getContext().pipeToSelf(verify(), (outcome, failure) -> new Verified(outcome, m.result(), failure));
            return this;
        }
        return complete(m.result());
    }

    private CompletableFuture<DiskComparison.Outcome> verify() {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return NbdDiskSource.open(field("target"), DiskLocation.parse(field("target"), disk.target()),
                        NbdOptions.DEFAULT, runtime.copy().tools());
            } catch (IOException e) {
                throw new CompletionException(e);
            }
        }, runtime.copy().blocking()).thenCompose(check -> DiskComparison.run(source, check, runtime.copySettings(),
                runtime.copy()).toCompletableFuture().whenComplete((o, e) -> check.close()));
    }

    private Behavior<Command> onVerified(Verified v) {
        if (v.failure() != null) {
            return onFailure(unwrap(v.failure()));
        }
        if (!v.outcome().equal()) {
            return fail("the target differs from the source at offset " + v.outcome().firstDifference()
                    + " after the copy");
        }
        return complete(v.result());
    }

    private Behavior<Command> complete(CopyResult result) {
        DiskSync done = sync;
        String token = done.token(disk.target(), result.progress().capacity());
        closeResources(); // the source's export ends: its image is free for qemu-img
        vm.tell(new VmActor.FromDisk(disk.id(), new JobActor.Completed(result.progress(), token)));
        CompletableFuture.runAsync(done::completed, runtime.copy().blocking());
        return Behaviors.stopped();
    }

    private Behavior<Command> onFailure(Throwable cause) {
        closeResources();
        if (stopRequested || cause instanceof CopyCancelledException) {
            return Behaviors.stopped();
        }
        String reason = reasonOf(cause);
        if (!isTransient(cause)) {
            return fail(reason);
        }
        int failures = budget.failed();
        if (failures > budget.maxRetries()) {
            return fail(describeGiveUp(cause, budget.maxRetries()));
        }
        log.info("event=disk-retry job={} disk={} retry={} checkpoint={} cause={}", jobId, disk.id(), failures,
                checkpoint.get().offset(), reason);
        vm.tell(new VmActor.FromDisk(disk.id(), new JobActor.Retrying(failures, reason)));
        throw new TransientDiskFault(reason, cause);
    }

    private Behavior<Command> fail(String reason) {
        closeResources();
        vm.tell(new VmActor.FromDisk(disk.id(), new JobActor.Failed(reason)));
        return Behaviors.stopped();
    }

    private Behavior<Command> onStop(Stop s) {
        stopRequested = true;
        if (copy != null) {
            copy.cancel(); // CopyEnded follows once the written part is flushed
            return this;
        }
        if (source == null && target == null) {
            return this; // still opening: Opened will stop us
        }
        closeResources();
        return Behaviors.stopped();
    }

    private Behavior<Command> onPostStop() {
        if (copy != null) {
            copy.cancel();
            copy.result().whenComplete((r, e) -> closeResources());
        } else {
            closeResources();
        }
        return this;
    }

    private void closeResources() {
        if (target != null) {
            target.close();
            target = null;
        }
        if (sync != null) {
            sync.close();
            sync = null;
            source = null;
        }
    }

    /** Transient failures of one disk in a row; a quiet {@code window} starts the count again. */
    static final class FailureBudget {
        private final int maxRetries;
        private final long windowNanos;
        private int inARow;
        private long lastFailure;

        FailureBudget(int maxRetries, java.time.Duration window) {
            this.maxRetries = maxRetries;
            this.windowNanos = window.toNanos();
        }

        /** Records a failure; returns how many there have been in a row. */
        synchronized int failed() {
            long now = System.nanoTime();
            if (inARow > 0 && now - lastFailure > windowNanos) {
                inARow = 0;
            }
            lastFailure = now;
            return ++inARow;
        }

        int maxRetries() {
            return maxRetries;
        }
    }

    /** Network, server and I/O trouble can pass; bad input cannot. */
    static boolean isTransient(Throwable cause) {
        return cause instanceof IOException && !(cause instanceof InvalidInputException);
    }

    static String reasonOf(Throwable cause) {
        String message = cause.getMessage();
        return message == null ? cause.getClass().getSimpleName() : message;
    }

    /** Why a disk's supervisor gave up, for the job's error. */
    static String describeGiveUp(Throwable cause, int maxRetries) {
        Throwable root = cause instanceof TransientDiskFault && cause.getCause() != null ? cause.getCause() : cause;
        return "gave up after " + maxRetries + " retries: " + reasonOf(root);
    }

    private static Throwable unwrap(Throwable t) {
        while (t instanceof CompletionException && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }
}
