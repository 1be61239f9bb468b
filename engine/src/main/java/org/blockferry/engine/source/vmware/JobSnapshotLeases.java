package org.blockferry.engine.source.vmware;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Extension;
import org.apache.pekko.actor.typed.ExtensionId;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.blockferry.engine.source.vmware.vim.ManagedObject;
import org.blockferry.engine.source.vmware.vim.VimClient;
import org.blockferry.engine.source.vmware.vim.VirtualDiskInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This node's {@link JobSnapshots} actor, started on first use, and the blocking calls a disk's
 * sync makes to it: hold the job's snapshot, keep the disk's first changeId, let go. Call them
 * from a thread that may block (they wait for vCenter), never from an actor's own work.
 *
 * <p>The actor's vCenter calls run on threads of their own, not on the system's blocking
 * dispatcher: the callers wait on that dispatcher's bounded pool ({@code DiskActor} opens its
 * source there), and with every thread of it waiting, the calls they wait for would never start.
 */
final class JobSnapshotLeases implements Extension {
    private static final Logger log = LoggerFactory.getLogger(JobSnapshotLeases.class);
    /** Beyond a guest's shutdown, what an acquire may wait for: vCenter calls, another job's snapshot of the VM. */
    private static final Duration MARGIN = Duration.ofMinutes(10);

    private static final ExtensionId<JobSnapshotLeases> ID = new ExtensionId<>() {
        @Override
        public JobSnapshotLeases createExtension(ActorSystem<?> system) {
            return new JobSnapshotLeases(system);
        }
    };

    /** A disk's hold on its job's snapshot, from {@link #acquire} until {@link #release}. */
    record Lease(String holder, VmJob job, JobSnapshot snapshot) {
    }

    private final ActorSystem<?> system;
    private final ActorRef<JobSnapshots.Command> actor;

    private JobSnapshotLeases(ActorSystem<?> system) {
        this.system = system;
        AtomicInteger threads = new AtomicInteger();
        ExecutorService vcenter = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "vmware-vcenter-" + threads.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        system.getWhenTerminated().thenRun(vcenter::shutdown);
        this.actor = system.systemActorOf(JobSnapshots.create(vcenter), "vmware-job-snapshots", Props.empty());
    }

    /** This node's leases (the actor starts with the first call on {@code system}). */
    static JobSnapshotLeases of(ActorSystem<?> system) {
        return ID.apply(system);
    }

    /**
     * The job's snapshot of {@code vm} for one disk: the one another disk of the job holds, or a
     * new one. Fails with what vCenter or the cutover failed with (the same exception).
     */
    Lease acquire(VmJob job, VimClient vim, ManagedObject vm, boolean finalSync) throws IOException {
        String holder = UUID.randomUUID().toString();
        Duration timeout = timeout(job);
        try {
            return new Lease(holder, job, await(AskPattern.askWithStatus(actor,
                    r -> new JobSnapshots.Acquire(holder, job, vim, vm, finalSync, r), timeout, system.scheduler()),
                    timeout));
        } catch (TimeoutException e) {
            actor.tell(new JobSnapshots.Release(holder, null, null)); // once granted: nobody is left to release it
            throw new IOException("no snapshot of VM '" + job.vmPath() + "' on " + job.vcenter().describe()
                    + " for job " + job.jobId() + " within " + timeout + ": vCenter's calls for the VM took longer", e);
        } catch (InterruptedException e) {
            actor.tell(new JobSnapshots.Release(holder, null, null));
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for the snapshot of VM '" + job.vmPath()
                    + "'");
        }
    }

    /**
     * The disk's changeId to leave as its token: the one it had at the first snapshot of its job
     * on this node, which a retry of the disk keeps.
     */
    String firstChangeId(Lease lease, VirtualDiskInfo disk) throws IOException {
        Duration timeout = timeout(lease.job());
        try {
            return await(AskPattern.<JobSnapshots.Command, JobSnapshots.FirstChangeId>ask(actor,
                    r -> new JobSnapshots.KeepFirstChangeId(firstKey(lease, disk), disk.changeId(), r), timeout,
                    system.scheduler()), timeout).changeId();
        } catch (TimeoutException e) {
            throw new IOException("no answer from this node's VMware snapshots within " + timeout, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while asking for the changeId of " + disk.fileName());
        }
    }

    /** The disk's copy completed and its token is recorded: a next sync of it starts afresh. */
    void completed(Lease lease, VirtualDiskInfo disk) {
        actor.tell(new JobSnapshots.ForgetFirstChangeId(firstKey(lease, disk)));
    }

    /**
     * Lets go of the job's snapshot; the last disk's release removes it with {@code vim} (still
     * logged in), or leaves it to the background when vCenter does not answer. Never fails.
     */
    void release(Lease lease, VimClient vim) {
        Duration timeout = timeout(lease.job());
        try {
            await(AskPattern.<JobSnapshots.Command, Done>ask(actor,
                    r -> new JobSnapshots.Release(lease.holder(), vim, r), timeout, system.scheduler()), timeout);
        } catch (TimeoutException | IOException | RuntimeException e) {
            log.warn("event=snapshot-release-unanswered vm={} job={} snapshot={} error={}", lease.job().vmPath(),
                    lease.job().jobId(), lease.snapshot().snapshot().value(), e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static String firstKey(Lease lease, VirtualDiskInfo disk) {
        return lease.snapshot().key() + " " + disk.key();
    }

    private static Duration timeout(VmJob job) {
        return job.settings().shutdownTimeout().plus(MARGIN);
    }

    /** The reply, or the exception the actor replied with, as it was thrown on vCenter's side. */
    private static <T> T await(CompletionStage<T> reply, Duration timeout)
            throws IOException, TimeoutException, InterruptedException {
        try {
            return reply.toCompletableFuture().get(timeout.toMillis() + 1000, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof TimeoutException t) { // the ask's own timeout
                throw t;
            }
            if (cause instanceof IOException io) {
                throw io;
            }
            if (cause instanceof RuntimeException r) {
                throw r;
            }
            if (cause instanceof Error err) {
                throw err;
            }
            throw new IOException(cause);
        }
    }
}
