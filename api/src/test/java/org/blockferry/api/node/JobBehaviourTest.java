package org.blockferry.api.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.blockferry.engine.actor.JobReply;
import org.blockferry.engine.actor.RunSlots;
import org.blockferry.engine.actor.TargetActor;
import org.blockferry.engine.actor.TargetState.Role;
import org.blockferry.engine.actor.TargetState;
import org.blockferry.engine.job.JobDocument;
import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.job.JobState.DiskIdentities;
import org.blockferry.engine.job.JobState.JobStatus;
import org.blockferry.engine.job.JobState;
import org.blockferry.engine.plan.CopyMode;
import org.blockferry.nbd.testing.DiskChecksum;
import org.blockferry.nbd.testing.NbdkitServer;
import org.blockferry.nbd.testing.TestPeers;
import org.blockferry.persistence.PersistenceSettings;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Jobs under faults, cancels, queueing and replay — on H2 and on PostgreSQL. */
class JobBehaviourTest {

    private static JobSpec oneDisk(String id, String source, String target) {
        return new JobSpec(id, "vm-" + id, null, List.of(new JobSpec.Disk("disk0", source, target)), CopyMode.AUTO,
                null).validated();
    }

    private static JobReply submit(Node node, JobSpec spec) throws Exception {
        return node.jobs().submit(spec).toCompletableFuture().get(30, TimeUnit.SECONDS);
    }

    @ParameterizedTest
    @EnumSource(TestDatabases.Kind.class)
    void transientReadErrorsAreRetriedAndTheJobCompletes(TestDatabases.Kind db) throws Exception {
        Path dir = TestPeers.scratchDirectory("eio-");
        try (NbdkitServer source = NbdkitServer.start(dir, "--filter=error", "sparse-random", "size=96M",
                "percent=80", "seed=5", "error-pread=EIO", "error-pread-rate=3%");
             // ~300 reads: at 1 % none failed in about one run in twenty; at 3 % in one in ten thousand
             NbdkitServer target = NbdkitServer.start(dir, "memory", "size=96M");
             Node node = NodeFixture.start(dir, TestDatabases.create(db, dir),
                     Map.of("blockferry.copy.request-size", "256KiB"))) {
            JobSpec spec = oneDisk("eio-" + db, source.uri(), target.uri());
            assertInstanceOf(JobReply.Accepted.class, submit(node, spec));
            JobState done = NodeFixture.awaitFinal(node, spec.jobId(), Duration.ofMinutes(3));
            assertEquals(JobStatus.COMPLETED, done.status(), String.valueOf(done.error()));
            JobDocument row = NodeFixture.awaitReadSide(node, spec.jobId(), Duration.ofSeconds(30));
            assertTrue(row.retries() > 0, "retries are recorded: " + row);
            try (NbdkitServer clean = NbdkitServer.start(dir, "sparse-random", "size=96M", "percent=80", "seed=5")) {
                assertEquals(DiskChecksum.ofUri(clean.uri()), DiskChecksum.ofUri(target.uri()));
            }
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabases.Kind.class)
    void sourceGoneForGoodFailsTheJobWithinItsRetryBudgetNamingDiskAndCause(TestDatabases.Kind db) throws Exception {
        Path dir = TestPeers.scratchDirectory("gone-");
        NbdkitServer source = NbdkitServer.start(dir, "--filter=delay", "sparse-random", "size=64M", "percent=100",
                "rdelay=20ms");
        try (NbdkitServer target = NbdkitServer.start(dir, "memory", "size=64M");
             Node node = NodeFixture.start(dir, TestDatabases.create(db, dir), Map.of(
                     "blockferry.jobs.retry.max-retries", 2))) {
            JobSpec spec = oneDisk("gone-" + db, source.uri(), target.uri());
            submit(node, spec);
            while (node.jobs().get(spec.jobId()).toCompletableFuture().get().disk("disk0").bytesDone() == 0) {
                Thread.sleep(20);
            }
            source.kill();
            long started = System.nanoTime();
            JobState done = NodeFixture.awaitFinal(node, spec.jobId(), Duration.ofMinutes(2));
            assertEquals(JobStatus.FAILED, done.status());
            assertTrue(done.error().startsWith("disk0: gave up after 2 retries: "), done.error());
            assertTrue(done.error().contains("cannot connect to") || done.error().contains("nbd_"), done.error());
            assertEquals(2, done.disk("disk0").retries(), "one DiskRetried per failed attempt within the budget");
            assertTrue(System.nanoTime() - started < Duration.ofSeconds(60).toNanos());
            JobDocument row = NodeFixture.awaitReadSide(node, spec.jobId(), Duration.ofSeconds(30));
            assertEquals("failed", row.status());
            assertEquals(done.error(), row.error());
        } finally {
            source.close();
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabases.Kind.class)
    void cancelStopsTheDisksFlushesAndEndsTheJobCancelled(TestDatabases.Kind db) throws Exception {
        Path dir = TestPeers.scratchDirectory("cancel-");
        try (NbdkitServer source = NbdkitServer.start(dir, "sparse-random", "size=256M", "percent=100", "seed=6");
             NbdkitServer target = NbdkitServer.start(dir, "--filter=delay", "memory", "size=256M", "wdelay=30ms");
             Node node = NodeFixture.start(dir, TestDatabases.create(db, dir), Map.of())) {
            JobSpec spec = oneDisk("cancel-" + db, source.uri(), target.uri());
            submit(node, spec);
            while (node.jobs().get(spec.jobId()).toCompletableFuture().get().disk("disk0").checkpoint().offset() == 0) {
                Thread.sleep(20);
            }
            JobReply reply = node.jobs().cancel(spec.jobId()).toCompletableFuture().get(60, TimeUnit.SECONDS);
            JobState cancelled = assertInstanceOf(JobReply.Accepted.class, reply).state();
            assertEquals(JobStatus.CANCELLED, cancelled.status());
            long checkpoint = cancelled.disk("disk0").checkpoint().offset();
            assertTrue(checkpoint > 0 && checkpoint < (256L << 20), "stopped mid-copy at " + checkpoint);
            assertEquals(prefix(dir, source.uri(), checkpoint), prefix(dir, target.uri(), checkpoint),
                    "everything below the checkpoint is on the target");
            JobReply again = node.jobs().cancel(spec.jobId()).toCompletableFuture().get(30, TimeUnit.SECONDS);
            assertEquals(JobReply.Reason.ALREADY_FINISHED, assertInstanceOf(JobReply.Rejected.class, again).reason());
            var row = NodeFixture.awaitReadSide(node, spec.jobId(), Duration.ofSeconds(30));
            assertEquals("cancelled", row.status());
            assertEquals("cancelled", row.disks().get(0).status(), "the stopped disk is not left 'copying'");
            assertTrue(row.progressPercent() < 100, "a cancelled job never shows 100 %");
        }
    }

    /**
     * A location still leased to a job that has ended (its release was lost with the node that
     * hosted the location): the next job that writes the target claims again, reminds the ended
     * job, which gives the lease back again, and runs.
     */
    @Test
    void aLeaseAnEndedJobStillHoldsIsGivenBackWhenAnotherJobWaitsForIt() throws Exception {
        Path dir = TestPeers.scratchDirectory("stale-lease-");
        try (NbdkitServer source = NbdkitServer.start(dir, "sparse-random", "size=16M", "percent=50", "seed=9");
             NbdkitServer target = NbdkitServer.start(dir, "memory", "size=16M");
             Node node = NodeFixture.start(dir, TestDatabases.create(TestDatabases.Kind.H2, dir),
                     Map.of("blockferry.jobs.claim-again-after", "200ms"))) {
            JobSpec first = oneDisk("stale-lease-1", source.uri(), target.uri());
            assertInstanceOf(JobReply.Accepted.class, submit(node, first));
            JobState ended = NodeFixture.awaitFinal(node, first.jobId(), Duration.ofMinutes(1));
            assertEquals(JobStatus.COMPLETED, ended.status(), String.valueOf(ended.error()));
            DiskIdentities ids = ended.disk("disk0").identities();
            var location = ClusterSharding.get(node.system()).entityRefFor(TargetActor.TYPE_KEY,
                    TargetActor.entityId(ids.target()));
            // the state a lost release leaves: the location leased to the ended job
            location.tell(new TargetActor.Acquire(first.jobId(), Role.WRITE, ids.source()));
            TargetState stale = AskPattern.<TargetActor.Command, TargetState>ask(location, TargetActor.Get::new,
                    Duration.ofSeconds(10), node.system().scheduler()).toCompletableFuture().get(15, TimeUnit.SECONDS);
            assertEquals(Map.of(first.jobId(), Role.WRITE), stale.holders());

            try (NbdkitServer other = NbdkitServer.start(dir, "sparse-random", "size=16M", "percent=50",
                    "seed=10")) {
                JobSpec second = oneDisk("stale-lease-2", other.uri(), target.uri());
                assertInstanceOf(JobReply.Accepted.class, submit(node, second));
                JobState done = NodeFixture.awaitFinal(node, second.jobId(), Duration.ofSeconds(60));
                assertEquals(JobStatus.COMPLETED, done.status(), String.valueOf(done.error()));
                assertEquals(DiskChecksum.ofUri(other.uri()), DiskChecksum.ofUri(target.uri()),
                        "the target holds the second job's source");
            }
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabases.Kind.class)
    void jobsBeyondTheNodesLimitWaitQueuedAndAllComplete(TestDatabases.Kind db) throws Exception {
        Path dir = TestPeers.scratchDirectory("queue-");
        List<NbdkitServer> servers = new ArrayList<>();
        try (Node node = NodeFixture.start(dir, TestDatabases.create(db, dir),
                Map.of("blockferry.jobs.max-running", 1))) {
            List<JobSpec> specs = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                NbdkitServer s = NbdkitServer.start(dir, "sparse-random", "size=32M", "percent=50", "seed=" + i);
                // slow enough that the first job still runs when the third is submitted
                NbdkitServer t = NbdkitServer.start(dir, "--filter=delay", "memory", "size=32M", "wdelay=200ms");
                servers.add(s);
                servers.add(t);
                specs.add(oneDisk("queue-" + db + "-" + i, s.uri(), t.uri()));
            }
            for (JobSpec spec : specs) {
                submit(node, spec);
            }
            var occupancy = awaitOccupancy(node, o -> o.running() == 1 && o.queued() == 2);
            assertEquals(1, occupancy.running(), occupancy.toString());
            assertEquals(2, occupancy.queued(), occupancy.toString());
            JobState second = node.jobs().get(specs.get(2).jobId()).toCompletableFuture().get();
            assertEquals(JobStatus.QUEUED, second.status(), "the third job waits");
            for (int i = 0; i < 3; i++) {
                JobState done = NodeFixture.awaitFinal(node, specs.get(i).jobId(), Duration.ofMinutes(2));
                assertEquals(JobStatus.COMPLETED, done.status());
                assertEquals(DiskChecksum.ofUri(servers.get(2 * i).uri()), DiskChecksum.ofUri(servers.get(2 * i + 1).uri()));
            }
        } finally {
            servers.forEach(NbdkitServer::close);
        }
    }

    @Test
    void aJobWaitsWhileAnotherJobWritesItsTarget() throws Exception {
        Path dir = TestPeers.scratchDirectory("same-target-");
        // a's source is data everywhere (pattern): a lasts for certain (64 writes at 800 ms on 4
        // connections), whatever sparse-random makes of a seed (a clean-clone run got no data at all)
        try (NbdkitServer first = NbdkitServer.start(dir, "pattern", "size=32M");
             NbdkitServer second = NbdkitServer.start(dir, "sparse-random", "size=32M", "percent=50", "seed=12");
             NbdkitServer shared = NbdkitServer.start(dir, "--filter=delay", "memory", "size=32M", "wdelay=800ms");
             NbdkitServer other = NbdkitServer.start(dir, "memory", "size=32M");
             Node node = NodeFixture.start(dir, TestDatabases.create(TestDatabases.Kind.H2, dir),
                     Map.of("blockferry.jobs.max-running", 4))) {
            JobSpec a = oneDisk("target-a", first.uri(), shared.uri());
            JobSpec b = oneDisk("target-b", second.uri(), shared.uri());
            JobSpec c = oneDisk("target-c", second.uri(), other.uri());
            // a first, until it runs: jobs submitted at the same instant take their locations in
            // the order their ownership comes back from the database, not in submission order
            assertInstanceOf(JobReply.Accepted.class, submit(node, a));
            awaitOccupancy(node, o -> o.running() == 1);
            for (JobSpec spec : List.of(b, c)) {
                assertInstanceOf(JobReply.Accepted.class, submit(node, spec));
            }
            var occupancy = awaitOccupancy(node, o -> o.running() == 2);
            assertEquals(2, occupancy.running(), "a and c run: slots are free, their targets differ");
            assertEquals(0, occupancy.queued(), "b waits for a's lease on its target, not for a slot");
            JobState waiting = node.jobs().get(b.jobId()).toCompletableFuture().get();
            for (long end = System.nanoTime() + 10_000_000_000L; waiting.waitingFor() == null
                    && System.nanoTime() < end; Thread.sleep(20)) {
                waiting = node.jobs().get(b.jobId()).toCompletableFuture().get();
            }
            assertEquals(JobStatus.QUEUED, waiting.status(), "b: " + waiting + "\na: "
                    + node.jobs().get(a.jobId()).toCompletableFuture().get() + "\noccupancy: " + occupancy);
            assertTrue(waiting.waitingFor() != null && waiting.waitingFor().contains("used by job target-a"),
                    String.valueOf(waiting.waitingFor()));
            JobState doneA = NodeFixture.awaitFinal(node, a.jobId(), Duration.ofMinutes(2));
            JobState doneB = NodeFixture.awaitFinal(node, b.jobId(), Duration.ofMinutes(2));
            JobState doneC = NodeFixture.awaitFinal(node, c.jobId(), Duration.ofMinutes(2));
            for (JobState done : List.of(doneA, doneB, doneC)) {
                assertEquals(JobStatus.COMPLETED, done.status(), String.valueOf(done.error()));
            }
            assertTrue(doneB.startedAt() >= doneA.finishedAt(), "b started after a ended: " + doneA + " / " + doneB);
            assertEquals(DiskChecksum.ofUri(second.uri()), DiskChecksum.ofUri(shared.uri()), "b wrote last, alone");
            assertEquals(DiskChecksum.ofUri(second.uri()), DiskChecksum.ofUri(other.uri()));
        }
    }

    /**
     * Sharding's automatic passivation counts only messages through the shard region: a queued
     * job, or one whose disks report to it for hours, must not be stopped by it. Watched through
     * the read side only, so that nothing wakes the jobs up.
     */
    @org.junit.jupiter.api.Test
    void queuedAndCopyingJobsAreNotPassivatedWhileNobodyAsks() throws Exception {
        Path dir = TestPeers.scratchDirectory("passivate-");
        try (NbdkitServer s1 = NbdkitServer.start(dir, "sparse-random", "size=128M", "percent=100", "seed=51");
             NbdkitServer t1 = NbdkitServer.start(dir, "--filter=delay", "memory", "size=128M", "wdelay=200ms");
             NbdkitServer s2 = NbdkitServer.start(dir, "sparse-random", "size=16M", "percent=50", "seed=52");
             NbdkitServer t2 = NbdkitServer.start(dir, "memory", "size=16M");
             Node node = NodeFixture.start(dir, TestDatabases.create(TestDatabases.Kind.H2, dir), Map.of(
                     "blockferry.jobs.max-running", 1,
                     "pekko.cluster.sharding.passivation.default-idle-strategy.idle-entity.timeout", "1s"))) {
            JobSpec slow = oneDisk("passivate-slow", s1.uri(), t1.uri());
            JobSpec queued = oneDisk("passivate-queued", s2.uri(), t2.uri());
            submit(node, slow);
            submit(node, queued);
            for (JobSpec spec : List.of(slow, queued)) {
                var row = NodeFixture.awaitReadSide(node, spec.jobId(), Duration.ofMinutes(2));
                assertEquals("completed", row.status(), spec.jobId() + ": " + row.error());
            }
            assertEquals(DiskChecksum.ofUri(s1.uri()), DiskChecksum.ofUri(t1.uri()));
            assertEquals(DiskChecksum.ofUri(s2.uri()), DiskChecksum.ofUri(t2.uri()));
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabases.Kind.class)
    void stateRebuiltFromTheJournalEqualsTheLiveState(TestDatabases.Kind db) throws Exception {
        Path dir = TestPeers.scratchDirectory("replay-");
        PersistenceSettings database = TestDatabases.create(db, dir);
        JobState live;
        String id = "replay-" + db;
        try (NbdkitServer s1 = NbdkitServer.start(dir, "sparse-random", "size=64M", "percent=60", "seed=8");
             NbdkitServer t1 = NbdkitServer.start(dir, "memory", "size=64M");
             NbdkitServer s2 = NbdkitServer.start(dir, "sparse-random", "size=40M", "percent=30", "seed=9");
             NbdkitServer t2 = NbdkitServer.start(dir, "memory", "size=40M")) {
            JobSpec spec = new JobSpec(id, "vm", null, List.of(new JobSpec.Disk("a", s1.uri(), t1.uri()),
                    new JobSpec.Disk("b", s2.uri(), t2.uri())), CopyMode.FULL, null).validated();
            try (Node node = NodeFixture.start(dir, database, Map.of("blockferry.jobs.snapshot-every", 5))) {
                submit(node, spec);
                NodeFixture.awaitFinal(node, id, Duration.ofMinutes(2));
                live = node.jobs().get(id).toCompletableFuture().get();
            }
            assertEquals(JobStatus.COMPLETED, live.status(), String.valueOf(live.error()));
            assertEquals(DiskChecksum.ofUri(s1.uri()), DiskChecksum.ofUri(t1.uri()), "disk a");
            assertEquals(DiskChecksum.ofUri(s2.uri()), DiskChecksum.ofUri(t2.uri()), "disk b");
            try (Node again = NodeFixture.start(dir, database, Map.of("blockferry.jobs.snapshot-every", 5))) {
                JobState replayed = again.jobs().get(id).toCompletableFuture().get(30, TimeUnit.SECONDS);
                assertEquals(live, replayed);
                JobReply conflict = again.jobs().submit(new JobSpec(id, "other-vm", null, spec.disks(), CopyMode.FULL,
                        null).validated()).toCompletableFuture().get(30, TimeUnit.SECONDS);
                assertEquals(JobReply.Reason.CONFLICT, assertInstanceOf(JobReply.Rejected.class, conflict).reason());
                JobReply unknown = again.jobs().cancel("no-such-job").toCompletableFuture().get(30, TimeUnit.SECONDS);
                assertEquals(JobReply.Reason.UNKNOWN_JOB, assertInstanceOf(JobReply.Rejected.class, unknown).reason());
                assertTrue(again.queries().get("no-such-job").isEmpty());
            }
        }
    }

    private static String prefix(Path dir, String uri, long length) throws Exception {
        Path copy = dir.resolve("prefix-" + System.nanoTime() + ".img");
        String nbdcopy = TestPeers.require("nbdcopy", "libnbd-bin");
        org.blockferry.nbd.testing.QemuNbdServer.run(nbdcopy, uri, copy.toString());
        String sum = DiskChecksum.ofFile(copy, length);
        Files.delete(copy);
        return sum;
    }

    /** This node's slots once {@code until} holds (jobs take their leases first, then ask for a slot). */
    private static RunSlots.Occupancy awaitOccupancy(Node node, java.util.function.Predicate<RunSlots.Occupancy> until)
            throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        RunSlots.Occupancy o;
        do {
            o = AskPattern.<RunSlots.Command, RunSlots.Occupancy>ask(RunSlots.of(node.system()), RunSlots.Get::new,
                    Duration.ofSeconds(10), node.system().scheduler()).toCompletableFuture().get();
            if (until.test(o)) {
                return o;
            }
            Thread.sleep(20);
        } while (System.nanoTime() < deadline);
        return o;
    }
}
