package org.blockferry.engine.source.vmware;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.pattern.StatusReply;
import org.blockferry.engine.source.vmware.JobSnapshotLeases.Lease;
import org.blockferry.engine.source.vmware.testing.Vcsim;
import org.blockferry.engine.source.vmware.vim.ManagedObject;
import org.blockferry.engine.source.vmware.vim.VimClient;
import org.blockferry.engine.source.vmware.vim.VimFault;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The job snapshots of one node against vcsim over https: a fresh simulator (its VM powered on, CBT off)
 * and a fresh actor system per test. Each disk of a job logs in with a session of its own, as
 * {@link VmwareSync} does.
 */
class JobSnapshotsTest {
    /** A guest that ignores ShutdownGuest holds up a final sync's snapshot for this long. */
    private static final Duration SHUTDOWN = Duration.ofSeconds(2);

    private Vcsim vcsim;
    private Vcenter vcenter;
    private ActorTestKit kit;
    private JobSnapshotLeases leases;
    private VimClient observer;
    private ManagedObject vm;
    private final List<VimClient> sessions = new ArrayList<>();

    @BeforeEach
    void start() throws IOException {
        vcsim = Vcsim.secure("user", "pass");
        Path dir = TestPeers.scratchDirectory("job-snapshots-");
        vcenter = vcsim.vcenter("vc1", "user", Files.writeString(dir.resolve("vc1.password"), "pass\n"));
        kit = ActorTestKit.create();
        leases = JobSnapshotLeases.of(kit.system());
        observer = session();
        vm = observer.findByInventoryPath(Vcsim.VM_PATH).orElseThrow();
    }

    @AfterEach
    void stop() throws IOException {
        for (VimClient s : sessions) {
            s.close();
        }
        kit.shutdownTestKit();
        vcsim.close();
    }

    private VimClient session() throws IOException {
        VimClient vim = vcsim.connect("user", "pass");
        sessions.add(vim);
        return vim;
    }

    private VmJob job(String jobId) {
        return new VmJob(vcenter, Vcsim.VM_PATH, jobId, VmwareSettings.defaults().withVcenters(vcenter)
                .withTimeouts(SHUTDOWN, Duration.ofMinutes(1)));
    }

    /** One disk of {@code jobId} takes or joins the job's snapshot, in a session of its own. */
    private Lease acquire(String jobId) throws IOException {
        return leases.acquire(job(jobId), session(), vm, false);
    }

    private static void await(BooleanSupplier condition, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean() && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
    }

    @Test
    void theDisksOfAJobShareOneSnapshot() throws IOException {
        Lease first = acquire("j");
        Lease second = acquire("j");
        assertEquals(first.snapshot().snapshot(), second.snapshot().snapshot());
        assertEquals(1, vcsim.snapshots(Vcsim.VM));
    }

    @Test
    void theSnapshotIsRemovedWhenTheLastDiskOfTheJobReleasesIt() throws IOException {
        Lease first = acquire("j");
        Lease second = acquire("j");
        leases.release(first, session());
        assertEquals(1, vcsim.snapshots(Vcsim.VM), "the second disk still reads it");
        leases.release(second, session());
        assertEquals(0, vcsim.snapshots(Vcsim.VM));
    }

    @Test
    void everyDiskOfTheJobThatEnabledCbtSaysSoEvenAfterItsSnapshotWasRemoved() throws IOException {
        Lease first = acquire("j");
        leases.release(first, session()); // the next disk (or a retry) takes a new snapshot, CBT on by now
        Lease later = acquire("j");
        assertTrue(first.snapshot().cbtEnabledNow() && later.snapshot().cbtEnabledNow());
    }

    @Test
    void anotherJobFindsCbtAlreadyOn() throws IOException {
        leases.release(acquire("first"), session());
        assertFalse(acquire("second").snapshot().cbtEnabledNow());
    }

    @Test
    void aSecondJobOnTheVmWaitsUntilTheFirstJobsSnapshotIsTaken() throws Exception {
        vcsim.ignoreNext("ShutdownGuest"); // the first job's cutover waits SHUTDOWN, then powers off
        VimClient cutoverSession = session();
        var pool = Executors.newCachedThreadPool();
        try {
            CompletableFuture<Lease> cutover = CompletableFuture.supplyAsync(() -> {
                try {
                    return leases.acquire(job("cutover"), cutoverSession, vm, true);
                } catch (IOException e) {
                    throw new AssertionError(e);
                }
            }, pool);
            await(() -> {
                try {
                    return observer.changeTrackingEnabled(vm); // the first job's vCenter calls run
                } catch (IOException e) {
                    throw new AssertionError(e);
                }
            }, Duration.ofSeconds(30));
            Lease other = acquire("other");
            // read from vCenter when the second acquire returns, not from the threads' order of return
            List<ManagedObject> cutoverSnapshots = observer.snapshotsNamed(vm, job("cutover").snapshotName());
            assertEquals(List.of(cutover.get(60, TimeUnit.SECONDS).snapshot().snapshot()), cutoverSnapshots,
                    "the first job's snapshot exists before the second job's acquire returns");
            assertNotEquals(cutoverSnapshots.get(0), other.snapshot().snapshot());
        } finally {
            pool.shutdown();
        }
    }

    @Test
    void anOrphanedSnapshotOfTheJobMarksTheSyncAsAfterACrash() throws IOException {
        observer.createSnapshot(vm, "blockferry-j", "", false); // left by a process that died
        assertTrue(acquire("j").snapshot().afterCrash());
    }

    @Test
    void anOrphanedSnapshotOfTheJobIsRemovedWhenTheJobTakesItsNewOne() throws IOException {
        observer.createSnapshot(vm, "blockferry-j", "", false);
        Lease lease = acquire("j");
        assertEquals(List.of(lease.snapshot().snapshot()), observer.snapshotsNamed(vm, "blockferry-j"));
    }

    @Test
    void aSnapshotVcenterRefusesFailsTheAcquireWithVcentersFault() {
        vcsim.failNext("CreateSnapshot_Task", "SnapshotFault");
        VimFault fault = assertThrows(VimFault.class, () -> acquire("j"));
        assertEquals("SnapshotFault", fault.faultType());
    }

    @Test
    void aFailedAcquireDoesNotHoldUpTheNextOneOnTheVm() throws IOException {
        vcsim.failNext("CreateSnapshot_Task", "SnapshotFault");
        assertThrows(VimFault.class, () -> acquire("j"));
        assertTimeoutPreemptively(Duration.ofSeconds(30), () -> acquire("j"));
    }

    @Test
    void aDisksFirstChangeIdIsKeptAcrossItsRetries() throws IOException {
        Lease first = acquire("j");
        String kept = leases.firstChangeId(first, first.snapshot().disks().get(0));
        leases.release(first, session());
        Lease retry = acquire("j"); // a newer snapshot: the disk's changeId moved on
        assertEquals(kept, leases.firstChangeId(retry, retry.snapshot().disks().get(0)));
    }

    @Test
    void aDiskThatCompletedStartsItsNextSyncFromTheNewChangeId() throws IOException {
        Lease first = acquire("j");
        String before = leases.firstChangeId(first, first.snapshot().disks().get(0));
        leases.completed(first, first.snapshot().disks().get(0));
        leases.release(first, session());
        Lease next = acquire("j");
        assertNotEquals(before, leases.firstChangeId(next, next.snapshot().disks().get(0)));
    }

    @Test
    void aRemovalVcenterDidNotAnswerIsRetriedInTheBackground() throws Exception {
        Lease lease = acquire("j");
        VimClient releasing = session();
        vcsim.outage(Duration.ofSeconds(3));
        leases.release(lease, releasing); // fails at once, retried 2 s later, then 4 s after that
        await(() -> vcsim.snapshots(Vcsim.VM) == 0, Duration.ofSeconds(30));
        assertEquals(0, vcsim.snapshots(Vcsim.VM));
    }

    @Test
    void aHoldGivenUpWhileItsSnapshotIsTakenIsReleasedOnceTaken() throws Exception {
        vcsim.ignoreNext("ShutdownGuest"); // the snapshot comes after SHUTDOWN
        ExecutorService vcenter = Executors.newCachedThreadPool();
        ActorRef<JobSnapshots.Command> actor = kit.spawn(JobSnapshots.create(vcenter));
        TestProbe<StatusReply<JobSnapshot>> caller = kit.createTestProbe();
        actor.tell(new JobSnapshots.Acquire("h", job("j"), session(), vm, true, caller.ref()));
        await(() -> {
            try {
                return observer.changeTrackingEnabled(vm);
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        }, Duration.ofSeconds(30));
        actor.tell(new JobSnapshots.Release("h", null, null)); // the caller timed out
        caller.expectMessageClass(StatusReply.class, Duration.ofSeconds(30)); // taken, and nobody holds it
        await(() -> vcsim.snapshots(Vcsim.VM) == 0, Duration.ofSeconds(30));
        vcenter.shutdown();
        assertEquals(0, vcsim.snapshots(Vcsim.VM));
    }
}
