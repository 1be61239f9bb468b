package org.blockferry.engine.actor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.cbor.databind.CBORMapper;
import com.typesafe.config.ConfigFactory;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.RecipientRef;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.persistence.testkit.PersistenceTestKitSnapshotPlugin;
import org.apache.pekko.persistence.testkit.javadsl.EventSourcedBehaviorTestKit;
import org.apache.pekko.persistence.testkit.javadsl.SnapshotTestKit;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializer;
import org.apache.pekko.serialization.Serializers;
import org.blockferry.engine.actor.JobActor.Command;
import org.blockferry.engine.actor.JobActor.Event;
import org.blockferry.engine.actor.TargetState.Role;
import org.blockferry.engine.copy.CopyProgress;
import org.blockferry.engine.endpoint.StoragePolicy;
import org.blockferry.engine.job.JobSettings;
import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.job.JobState.DiskIdentities;
import org.blockferry.engine.job.JobState.DiskStatus;
import org.blockferry.engine.job.JobState.JobStatus;
import org.blockferry.engine.job.JobState;
import org.blockferry.engine.plan.CopyMode;
import org.blockferry.engine.plan.ResumePoint;
import org.blockferry.engine.source.vmware.Vcenter;
import org.blockferry.engine.source.vmware.VmwareSettings;
import org.blockferry.engine.source.vmware.VmwareSources;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The job entity, command by command in each of its states, with probes for the actors it
 * talks to (its locations, the node's slots, the VmActor that would run its disks), and its
 * recovery from events and from a snapshot.
 */
class JobActorTest {
    private static final ActorTestKit kit = ActorTestKit.create(EventSourcedBehaviorTestKit.config()
            .withFallback(PersistenceTestKitSnapshotPlugin.getInstance().config())
            .withFallback(ConfigFactory.parseString("pekko.loglevel = WARNING"))
            .withFallback(ConfigFactory.load()));
    private static final String SOURCE = "file:/vm/disk0.img";
    private static final String TARGET = "file:/copies/disk0.img";
    private static final Map<String, DiskIdentities> IDS = Map.of("d0", new DiskIdentities(SOURCE, TARGET));
    private static final AtomicInteger RUNS = new AtomicInteger();

    /** Each test has its own job (the in-memory journal outlives a test). */
    private String jobId;
    private JobSpec spec;

    private TestProbe<TargetActor.Command> locations;
    private TestProbe<RunSlots.Command> slots;
    private TestProbe<VmActor.Command> vm;
    /** The other jobs this job reminds (of a lease they hold), and what it tells them. */
    private TestProbe<Command> others;
    private final List<String> reminded = new java.util.concurrent.CopyOnWriteArrayList<>();
    private JobPeers peers;
    private VmwareSources vcenters;
    private EventSourcedBehaviorTestKit<Command, Event, JobState> job;
    private JobRuntime runtime;

    @BeforeEach
    void start() {
        locations = kit.createTestProbe();
        slots = kit.createTestProbe();
        vm = kit.createTestProbe();
        others = kit.createTestProbe();
        peers = new JobPeers() {
            @Override
            public RecipientRef<TargetActor.Command> location(String identity) {
                return locations.ref();
            }

            @Override
            public ActorRef<RunSlots.Command> slots() {
                return slots.ref();
            }

            @Override
            public RecipientRef<Command> job(String otherJob) {
                reminded.add(otherJob);
                return others.ref();
            }

            @Override
            public Behavior<VmActor.Command> disks(JobState state, ActorRef<Command> job, JobRuntime runtime,
                                                   org.blockferry.engine.copy.WriteFence fence) {
                return Behaviors.monitor(VmActor.Command.class, vm.ref(), Behaviors.ignore());
            }
        };
        vcenters = new VmwareSources(kit.system(), VmwareSettings.defaults().withVcenters(new Vcenter(
                "vc1", URI.create("https://vc1.example/sdk"), "bf", Path.of("/etc/blockferry/vc1.password"), null, null,
                null, false)), null);
        newJob(Duration.ofMinutes(1)); // no claim again within a test, unless it asks for it
    }

    /** A new job (its own id) whose unanswered claims go again after {@code claimAgainAfter}. */
    private void newJob(Duration claimAgainAfter) {
        jobId = "job" + RUNS.incrementAndGet();
        spec = new JobSpec(jobId, "vm1", new JobSpec.Source("nbd"),
                List.of(new JobSpec.Disk("d0", "/vm/disk0.img", "/copies/disk0.img")), CopyMode.AUTO, null).validated();
        JobSettings settings = new JobSettings(1, 0, Duration.ofMinutes(1), Duration.ofMillis(10),
                Duration.ofMillis(10), 4, Duration.ofMinutes(2), 8, claimAgainAfter);
        runtime = new JobRuntime(null, null, settings, vcenters, peers, StoragePolicy.UNRESTRICTED);
        job = EventSourcedBehaviorTestKit.create(kit.system(), JobActor.create(jobId, runtime));
    }

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    private JobReply submit(JobSpec spec) {
        return job.<JobReply>runCommand(r -> new JobActor.Submit(spec, IDS, r)).reply();
    }

    private JobReply cancel() {
        return job.<JobReply>runCommand(JobActor.Cancel::new).reply();
    }

    /** Submitted, leases granted (target, then source: their identities' order), slot granted: running. */
    private void running() {
        submit(spec);
        expectAcquire(TARGET, Role.WRITE);
        job.runCommand(new JobActor.LeaseGranted(TARGET));
        expectAcquire(SOURCE, Role.READ);
        job.runCommand(new JobActor.LeaseGranted(SOURCE));
        assertEquals(jobId, slots.expectMessageClass(RunSlots.Request.class).jobId());
        job.runCommand(JobActor.SlotGranted.INSTANCE);
        assertEquals(JobStatus.RUNNING, job.getState().status());
    }

    private void expectAcquire(String identity, Role role) {
        TargetActor.Acquire a = locations.expectMessageClass(TargetActor.Acquire.class);
        assertEquals(role, a.role(), identity);
        assertEquals(jobId, a.jobId());
        assertEquals(role == Role.WRITE ? SOURCE : null, a.source());
    }

    private static CopyProgress progress(long done, CopyProgress.Phase phase) {
        return new CopyProgress("d0", phase, 1 << 20, 1 << 20, done, done, 0, 0, 0,
                new ResumePoint(done, done, done, 0, 0, 0), 100, 1, 0, 10);
    }

    private void report(DiskActor.Report r) {
        job.runCommand(new JobActor.DiskReport("d0", r));
    }

    // ---- NEW ----

    private JobSpec vmware(String vcenter) {
        return new JobSpec(jobId, "web01", JobSpec.Source.vmware(vcenter, "DC0/vm/web01", null),
                List.of(new JobSpec.Disk("d0", "2000", "/copies/disk0.img")), CopyMode.AUTO, null).validated();
    }

    @Test
    void aVmwareJobNamingAVcenterTheNodeDoesNotKnowIsRejectedNamingTheField() {
        JobReply reply = submit(vmware("vc9"));
        assertEquals(new JobReply.Rejected(JobReply.Reason.INVALID, "source.vcenter: 'vc9' is not a vCenter of this"
                + " node (configured: vc1)", "source.vcenter"), reply);
        assertEquals(JobStatus.NEW, job.getState().status());
        assertInstanceOf(JobReply.Accepted.class, submit(vmware("vc1")));
    }

    /**
     * A journal written before jobs named their vCenter holds {@code JobSubmitted} events whose
     * source says where vCenter is and how to log in: they are read without those fields (the
     * job then fails when its disks open, naming source.vcenter).
     */
    @Test
    void aJobSubmittedByAnOlderVersionIsReadWithoutItsVcenterFields() throws Exception {
        Serialization serialization = SerializationExtension.get(Adapter.toClassic(kit.system()));
        JobActor.JobSubmitted now = new JobActor.JobSubmitted(vmware("vc1"), IDS, 1L);
        Serializer serializer = serialization.findSerializerFor(now);
        String manifest = Serializers.manifestFor(serializer, now);
        CBORMapper cbor = new CBORMapper();
        ObjectNode event = (ObjectNode) cbor.readTree(serialization.serialize(now).get());
        ObjectNode source = (ObjectNode) event.path("spec").path("source");
        source.remove("vcenter");
        source.put("url", "https://vc.example/sdk").put("user", "bf").put("password_file", "/run/secrets/vc")
                .put("password_env", (String) null).put("thumbprint", "ab".repeat(32)).put("insecure", false);
        byte[] old = cbor.writeValueAsBytes(event);
        assertTrue(new String(old, java.nio.charset.StandardCharsets.ISO_8859_1).contains("password_file"));
        JobActor.JobSubmitted read = (JobActor.JobSubmitted) serialization.deserialize(old, serializer.identifier(),
                manifest).get();
        assertEquals(JobSpec.Source.vmware(null, "DC0/vm/web01", null), read.spec().source());
        assertEquals(IDS, read.identities());
    }

    @Test
    void aNewJobIsSubmittedQueuedAndAsksForItsFirstLease() {
        JobReply reply = submit(spec);
        assertInstanceOf(JobReply.Accepted.class, reply);
        assertEquals(JobStatus.QUEUED, job.getState().status());
        assertEquals(IDS.get("d0"), job.getState().disk("d0").identities());
        expectAcquire(TARGET, Role.WRITE);
    }

    @Test
    void aNewJobRefusesCancelAndIgnoresEverythingElse() {
        JobReply r = cancel();
        assertEquals(JobReply.Reason.UNKNOWN_JOB, ((JobReply.Rejected) r).reason());
        for (Command c : List.of(new JobActor.LeaseGranted(TARGET), new JobActor.LeaseQueued(TARGET, "x"),
                JobActor.SlotGranted.INSTANCE, JobActor.VmEnded.INSTANCE, JobActor.Resume.INSTANCE,
                new JobActor.DiskReport("d0", new DiskActor.Failed("x")))) {
            assertTrue(job.runCommand(c).hasNoEvents(), c.toString());
        }
        assertEquals(JobStatus.NEW, job.getState().status());
        locations.expectNoMessage(Duration.ofMillis(50));
        slots.expectNoMessage(Duration.ofMillis(10));
    }

    // ---- QUEUED ----

    @Test
    void aQueuedJobSaysWhatItWaitsForOnce() {
        submit(spec);
        expectAcquire(TARGET, Role.WRITE);
        var waiting = job.runCommand(new JobActor.LeaseQueued(TARGET, "other"));
        assertEquals("waits for target " + TARGET + ", used by job other",
                ((JobActor.JobWaiting) waiting.event()).reason());
        assertEquals("waits for target " + TARGET + ", used by job other", job.getState().waitingFor());
        assertTrue(job.runCommand(new JobActor.LeaseQueued(TARGET, "other")).hasNoEvents());
    }

    @Test
    void aQueuedJobClaimsAgainALeaseWhoseAnswerWasLostAndStopsOnceItHoldsThemAll() {
        newJob(Duration.ofMillis(100));
        submit(spec);
        expectAcquire(TARGET, Role.WRITE);
        expectAcquire(TARGET, Role.WRITE); // no answer (lost with a node): the same claim again
        job.runCommand(new JobActor.LeaseGranted(TARGET));
        // the first claim of the source, then (unanswered) the same again; never the target again
        expectAcquire(SOURCE, Role.READ);
        expectAcquire(SOURCE, Role.READ);
        job.runCommand(new JobActor.LeaseGranted(SOURCE));
        slots.expectMessageClass(RunSlots.Request.class);
        locations.expectNoMessage(Duration.ofMillis(400)); // every lease held: no claim goes again
        slots.expectNoMessage(Duration.ofMillis(50)); // the slot is asked for once (this node's, nothing lost)
        assertInstanceOf(JobActor.JobStarted.class, job.runCommand(JobActor.SlotGranted.INSTANCE).event());
    }

    @Test
    void aQueuedJobKeepsClaimingALeaseHeldByAnotherJobAndRemindsThatJob() {
        newJob(Duration.ofMillis(100));
        submit(spec);
        expectAcquire(TARGET, Role.WRITE);
        job.runCommand(new JobActor.LeaseQueued(TARGET, "other"));
        assertEquals(JobActor.Resume.INSTANCE, others.receiveMessage(), "the holder is woken");
        assertEquals(List.of("other"), reminded);
        expectAcquire(TARGET, Role.WRITE); // still waiting: claimed again (a lost grant is answered again)
        assertTrue(job.runCommand(new JobActor.LeaseQueued(TARGET, "other")).hasNoEvents(), "the same wait");
        assertEquals(JobActor.Resume.INSTANCE, others.receiveMessage(), "reminded at every answer");
        assertEquals(JobStatus.QUEUED, job.getState().status());
    }

    @Test
    void aJobQueuedBehindItselfRemindsNobody() {
        submit(spec);
        expectAcquire(TARGET, Role.WRITE);
        job.runCommand(new JobActor.LeaseQueued(TARGET, jobId));
        job.runCommand(new JobActor.LeaseQueued(TARGET, null));
        others.expectNoMessage(Duration.ofMillis(100));
        assertEquals(List.of(), reminded);
    }

    @Test
    void anEndedJobRemindedOfALeaseGivesItsLeasesBackAgain() {
        running();
        job.runCommand(new JobActor.Cancel(kit.<JobReply>createTestProbe().ref()));
        vm.expectMessage(VmActor.Stop.INSTANCE);
        job.runCommand(JobActor.VmEnded.INSTANCE);
        assertEquals(JobStatus.CANCELLED, job.getState().status());
        slots.expectMessageClass(RunSlots.Release.class);
        assertEquals(2, locations.receiveSeveralMessages(2).stream()
                .filter(m -> m instanceof TargetActor.Release r && r.jobId().equals(jobId)).count());
        // a job waiting for the target hears it is still held by this one (the release was lost)
        assertTrue(job.runCommand(JobActor.Resume.INSTANCE).hasNoEvents());
        slots.expectMessageClass(RunSlots.Release.class);
        assertEquals(2, locations.receiveSeveralMessages(2).stream()
                .filter(m -> m instanceof TargetActor.Release r && r.jobId().equals(jobId)).count());
    }

    @Test
    void aQueuedJobStartsOnlyWithAllItsLeasesAndASlot() {
        submit(spec);
        expectAcquire(TARGET, Role.WRITE);
        assertTrue(job.runCommand(JobActor.SlotGranted.INSTANCE).hasNoEvents(), "a slot without the leases");
        job.runCommand(new JobActor.LeaseGranted(TARGET));
        expectAcquire(SOURCE, Role.READ);
        slots.expectNoMessage(Duration.ofMillis(50));
        job.runCommand(new JobActor.LeaseGranted(SOURCE));
        slots.expectMessageClass(RunSlots.Request.class);
        var started = job.runCommand(JobActor.SlotGranted.INSTANCE);
        assertInstanceOf(JobActor.JobStarted.class, started.event());
        assertEquals(JobStatus.RUNNING, started.state().status());
        assertEquals(null, started.state().waitingFor());
    }

    @Test
    void aQueuedJobCancelledEndsCancelledAndGivesItsLeasesBack() {
        submit(spec);
        expectAcquire(TARGET, Role.WRITE);
        JobReply r = cancel();
        assertEquals(JobStatus.CANCELLED, ((JobReply.Accepted) r).state().status());
        assertEquals(DiskStatus.CANCELLED, job.getState().disk("d0").status());
        slots.expectMessageClass(RunSlots.Release.class);
        assertEquals(2, locations.receiveSeveralMessages(2).stream()
                .filter(m -> m instanceof TargetActor.Release).count());
    }

    // ---- RUNNING ----

    @Test
    void aRunningJobRecordsWhatItsDiskReportsAndCompletes() {
        running();
        assertInstanceOf(JobActor.DiskPlanned.class, job.runCommand(new JobActor.DiskReport("d0",
                new DiskActor.Planned(1 << 20, 1 << 20, CopyMode.FULL, "full copy requested"))).event());
        assertTrue(job.runCommand(new JobActor.DiskReport("d0",
                new DiskActor.Planned(1 << 20, 1 << 20, CopyMode.FULL, "full copy requested"))).hasNoEvents(),
                "planned again after a retry: nothing new");
        report(new DiskActor.Progressed(progress(512 << 10, CopyProgress.Phase.COPYING)));
        assertEquals(512 << 10, job.getState().disk("d0").bytesDone());
        var done = job.runCommand(new JobActor.DiskReport("d0",
                new DiskActor.Completed(progress(1 << 20, CopyProgress.Phase.DONE), "tok")));
        assertEquals(2, done.events().size());
        assertEquals("tok", done.state().disk("d0").changeToken());
        var completed = job.runCommand(JobActor.VmEnded.INSTANCE);
        assertInstanceOf(JobActor.JobCompleted.class, completed.event());
        assertEquals(100.0, completed.state().percent());
        slots.expectMessageClass(RunSlots.Release.class);
    }

    @Test
    void aRunningJobWhoseDiskFailedFailsWithTheDisksReason() {
        running();
        report(new DiskActor.Retrying(1, "connection reset"));
        assertEquals(1, job.getState().disk("d0").retries());
        report(new DiskActor.Failed("gave up after 3 retries: connection reset"));
        var failed = job.runCommand(JobActor.VmEnded.INSTANCE);
        assertEquals(new JobActor.JobFailed("d0: gave up after 3 retries: connection reset", failed.event().at()),
                failed.event());
    }

    @Test
    void aRunningJobCancelledStopsItsDisksThenEndsCancelled() {
        running();
        report(new DiskActor.Progressed(progress(4096, CopyProgress.Phase.COPYING)));
        ActorRef<JobReply> replies = kit.<JobReply>createTestProbe().ref();
        TestProbe<JobReply> cancelReply = kit.createTestProbe();
        job.runCommand(new JobActor.Cancel(cancelReply.ref()));
        assertEquals(JobStatus.CANCELLING, job.getState().status());
        vm.expectMessage(VmActor.Stop.INSTANCE);
        assertTrue(job.runCommand(new JobActor.Cancel(replies)).hasNoEvents(), "cancelling already");
        job.runCommand(JobActor.VmEnded.INSTANCE);
        JobReply r = cancelReply.receiveMessage();
        assertEquals(JobStatus.CANCELLED, ((JobReply.Accepted) r).state().status());
        assertEquals(DiskStatus.CANCELLED, job.getState().disk("d0").status(),
                "the unfinished disk shows cancelled, not copying");
    }

    @Test
    void commandsThatMeanNothingInAStateChangeNothing() {
        submit(spec);
        expectAcquire(TARGET, Role.WRITE);
        for (Command c : List.of(JobActor.VmEnded.INSTANCE, JobActor.Resume.INSTANCE, JobActor.Idle.INSTANCE,
                new JobActor.DiskReport("d0", new DiskActor.Failed("not running")))) {
            assertTrue(job.runCommand(c).hasNoEvents(), "queued: " + c);
        }
        assertEquals(JobStatus.QUEUED, job.getState().status());
        job.runCommand(new JobActor.LeaseGranted(TARGET));
        expectAcquire(SOURCE, Role.READ);
        job.runCommand(new JobActor.LeaseGranted(SOURCE));
        slots.expectMessageClass(RunSlots.Request.class);
        job.runCommand(JobActor.SlotGranted.INSTANCE);
        for (Command c : List.of(JobActor.Resume.INSTANCE, JobActor.Idle.INSTANCE, JobActor.SlotGranted.INSTANCE,
                new JobActor.LeaseGranted("another-location"))) {
            assertTrue(job.runCommand(c).hasNoEvents(), "running: " + c);
        }
        assertInstanceOf(JobReply.Accepted.class, submit(spec), "running: the same spec again");
        job.runCommand(new JobActor.Cancel(kit.<JobReply>createTestProbe().ref()));
        vm.expectMessage(VmActor.Stop.INSTANCE);
        for (Command c : List.of(JobActor.Resume.INSTANCE, JobActor.Idle.INSTANCE, JobActor.SlotGranted.INSTANCE,
                new JobActor.LeaseGranted(TARGET), new JobActor.LeaseQueued(TARGET, "x"))) {
            assertTrue(job.runCommand(c).hasNoEvents(), "cancelling: " + c);
        }
        assertEquals(JobStatus.CANCELLING, job.getState().status());
    }

    // ---- ended ----

    @Test
    void anEndedJobRefusesCancelAndAnswersARepeatedSubmission() {
        running();
        report(new DiskActor.Completed(progress(1 << 20, CopyProgress.Phase.DONE), null));
        job.runCommand(JobActor.VmEnded.INSTANCE);
        assertEquals(JobReply.Reason.ALREADY_FINISHED, ((JobReply.Rejected) cancel()).reason());
        assertInstanceOf(JobReply.Accepted.class, submit(spec), "the same spec again: the same job");
        JobSpec other = new JobSpec(jobId, "vm2", spec.source(), spec.disks(), spec.mode(), spec.options());
        assertEquals(JobReply.Reason.CONFLICT, ((JobReply.Rejected) submit(other)).reason());
        for (Command c : List.of(new JobActor.LeaseGranted(TARGET), JobActor.SlotGranted.INSTANCE,
                JobActor.VmEnded.INSTANCE, new JobActor.DiskReport("d0", new DiskActor.Failed("late")))) {
            assertTrue(job.runCommand(c).hasNoEvents(), c.toString());
        }
        assertEquals(JobStatus.COMPLETED, job.getState().status());
    }

    // ---- recovery ----

    @Test
    void aRunningJobRecoversTakesItsLeasesAgainAndResumesItsDisks() {
        running();
        report(new DiskActor.Planned(1 << 20, 1 << 20, CopyMode.FULL, "full copy requested"));
        report(new DiskActor.Progressed(progress(256 << 10, CopyProgress.Phase.COPYING)));
        report(new DiskActor.Progressed(progress(512 << 10, CopyProgress.Phase.COPYING)));
        JobState before = job.getState();
        assertTrue(SnapshotTestKit.create(kit.system()).persistedInStorage("ReplicationJob|" + jobId).size() > 0,
                "the fourth event took a snapshot");

        assertEquals(before, job.restart().state(), "from the snapshot and the events after it");
        expectAcquire(TARGET, Role.WRITE);
        job.runCommand(new JobActor.LeaseGranted(TARGET));
        expectAcquire(SOURCE, Role.READ);
        job.runCommand(new JobActor.LeaseGranted(SOURCE));
        slots.expectMessageClass(RunSlots.Request.class);
        var resumed = job.runCommand(JobActor.SlotGranted.INSTANCE);
        assertEquals(List.of(new JobActor.DiskResumed("d0", before.disk("d0").checkpoint(), 512 << 10,
                resumed.event().at())), resumed.events());
        assertEquals(1, resumed.state().disk("d0").resumes());
    }

    @Test
    void aRunningJobMovedToAnotherNodeNamesThatNodeOnlyOnceItHoldsASlotThere() {
        running();
        report(new DiskActor.Planned(1 << 20, 1 << 20, CopyMode.FULL, "full copy requested"));
        report(new DiskActor.Progressed(progress(256 << 10, CopyProgress.Phase.COPYING)));
        String ranOn = job.getState().node();
        assertEquals(runtime.node(), ranOn);

        // its node died: another node's entity recovers it and owns it
        ActorRef<Command> moved = kit.spawn(JobActor.create(jobId,
                runtime.withOwnership(org.blockferry.engine.cluster.JobOwnership.LOCAL, "node-b:25520")));
        expectAcquire(TARGET, Role.WRITE);
        moved.tell(new JobActor.LeaseGranted(TARGET));
        expectAcquire(SOURCE, Role.READ);
        moved.tell(new JobActor.LeaseGranted(SOURCE));
        slots.expectMessageClass(RunSlots.Request.class);
        TestProbe<JobState> state = kit.createTestProbe();
        moved.tell(new JobActor.Get(state.ref()));
        assertEquals(ranOn, state.receiveMessage().node(),
                "waiting for a slot there, it still counts for the node it ran on, not as a second running job");

        moved.tell(JobActor.SlotGranted.INSTANCE);
        moved.tell(new JobActor.Get(state.ref()));
        JobState running = state.receiveMessage();
        assertEquals("node-b:25520", running.node());
        assertEquals(1, running.disk("d0").resumes(), "its disk resumes there");
        kit.stop(moved);
    }

    @Test
    void anEndedJobGivesItsLeasesBackAgainWhenItRecovers() {
        submit(spec);
        expectAcquire(TARGET, Role.WRITE);
        cancel();
        slots.expectMessageClass(RunSlots.Release.class);
        locations.receiveSeveralMessages(2);
        job.restart();
        slots.expectMessageClass(RunSlots.Release.class);
        assertEquals(2, locations.receiveSeveralMessages(2).stream()
                .filter(m -> m instanceof TargetActor.Release).count());
    }
}
