package org.blockferry.api.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.blockferry.engine.actor.JobReply;
import org.blockferry.engine.cloudstack.CloudStackDouble;
import org.blockferry.engine.cloudstack.Clouds;
import org.blockferry.engine.cloudstack.Volume;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.job.JobDocument;
import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.plan.CopyMode;
import org.blockferry.nbd.testing.DiskChecksum;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A CloudStack target through the job path, against the CloudStack API double (real loop devices
 * behind its attached volumes): the first sync creates the volume, attaches it to the node's
 * appliance and writes it in place; the next one reuses it and moves only the changes. Every
 * sync compares the volume's bytes with the source; only the volumes BlockFerry created are touched.
 */
class CloudStackTargetTest {
    private static final long GIB = 1L << 30;
    private static final String SECRET = "secret-canary-7f3a9c";

    private Path dir;
    private CloudStackDouble cloud;
    private String appliance;
    private String foreign;

    @BeforeEach
    void startCloud() throws Exception {
        CloudStackDouble.requireLoopDevices();
        dir = TestPeers.scratchDirectory("cloudstack-");
        cloud = CloudStackDouble.start("api-key-1", SECRET, dir.resolve("cloud"));
        cloud.addZone("zone-1");
        cloud.addDiskOffering("custom", true);
        appliance = cloud.addVm("appliance-1", "Running", dir.resolve("dev"));
        foreign = cloud.addForeignVolume("someone-elses", 1, appliance);
    }

    @AfterEach
    void stopCloud() throws Exception {
        if (cloud != null) {
            cloud.close();
        }
    }

    private Map<String, Object> clouds() {
        return new HashMap<>(CloudStackDouble.nodeConfig(cloud.cloud("c1", "zone-1", "custom", appliance,
                dir.resolve("dev"))));
    }

    private static JobSpec job(String id, Path image, String cloudName, CopyMode mode) {
        return new JobSpec(id, "web 01", new JobSpec.Source("qemu"),
                List.of(new JobSpec.Disk("d0", image.toString(), null)), mode, null, null,
                JobSpec.Target.cloudstack(cloudName));
    }

    private static JobDocument sync(Node node, JobSpec spec) throws Exception {
        JobReply reply = node.jobs().submit(spec.validated()).toCompletableFuture().get(60, TimeUnit.SECONDS);
        assertInstanceOf(JobReply.Accepted.class, reply, reply.toString());
        return NodeFixture.awaitReadSide(node, spec.jobId(), Duration.ofMinutes(3));
    }

    private Volume onlyCreatedVolume() {
        List<Volume> ours = cloud.volumes().stream().filter(v -> !v.id().equals(foreign)).toList();
        assertEquals(1, ours.size(), ours.toString());
        return ours.get(0);
    }

    @Test
    void firstSyncProvisionsTheVolumeAndTheNextReusesItMovingOnlyTheChanges() throws Exception {
        Path image = Qcow2Images.create(dir, "disk.qcow2", "1G", 30, 61);
        try (Node node = NodeFixture.start(dir, TestDatabases.create(TestDatabases.Kind.H2, dir), clouds())) {
            JobDocument full = sync(node, job("cs-full", image, "c1", CopyMode.AUTO));
            assertEquals("completed", full.status(), full.error());
            JobDocument.Disk d = full.disks().get(0);
            Volume volume = onlyCreatedVolume();
            assertEquals(volume.id(), d.volumeId());
            assertEquals("bf-web_01-d0", volume.name());
            assertEquals(GIB, volume.sizeBytes(), "1 GiB disk, 1 GiB volume");
            assertEquals(appliance, volume.virtualMachineId(), "stays attached to the appliance between syncs");
            assertTrue(d.provisioningStep().contains(volume.id()), d.provisioningStep());
            assertEquals("cloudstack://c1/bf-web_01-d0", d.target());
            assertTrue(d.totalBytes() < GIB / 2, "total is the data, not the capacity: " + d.totalBytes());
            assertEquals(Qcow2Images.checksum(dir, image), DiskChecksum.ofFile(cloud.volumeFile(volume.id()), GIB));

            List<Qcow2Images.Write> writes = Qcow2Images.scatter(image, GIB, GIB / 100, 8);
            JobDocument inc = sync(node, job("cs-inc", image, "c1", CopyMode.AUTO));
            assertEquals("completed", inc.status(), inc.error());
            JobDocument.Disk i = inc.disks().get(0);
            assertEquals("incremental", i.mode(), i.modeReason());
            assertEquals(volume.id(), i.volumeId(), "the same volume");
            assertTrue(i.bytesWritten() + i.bytesZeroed() <= Qcow2Images.touchedRoundedToGranularity(writes));
            assertEquals(Qcow2Images.checksum(dir, image), DiskChecksum.ofFile(cloud.volumeFile(volume.id()), GIB));

            List<String> touched = cloud.calls().stream().map(c -> c.command() + " " + c.volumeId()).toList();
            assertEquals(List.of("createVolume " + volume.id(), "attachVolume " + volume.id()), touched,
                    "one volume created and attached once; nothing else touched");
            String document = new ObjectMapper().writeValueAsString(List.of(full, inc));
            assertFalse(document.contains(SECRET), "the secret key stays on the node");
        }
    }

    @Test
    void aVolumeAttachedByAnotherNodeIsMovedHereAndOneAttachedByHandIsLeftAlone() throws Exception {
        Path image = Qcow2Images.create(dir, "disk.qcow2", "256M", 40, 62);
        String otherAppliance = cloud.addVm("appliance-2", "Running", dir.resolve("dev2"));
        Map<String, Object> second = new HashMap<>(clouds());
        second.put(Clouds.KEY + ".c1.appliance-vm-id", otherAppliance);
        second.put(Clouds.KEY + ".c1.device-dir", dir.resolve("dev2").toString());
        String volumeId;
        try (Node node = NodeFixture.start(dir, TestDatabases.create(TestDatabases.Kind.H2, dir), clouds())) {
            assertEquals("completed", sync(node, job("mv-1", image, "c1", CopyMode.AUTO)).status());
            volumeId = onlyCreatedVolume().id();
        }
        // the same database, another appliance: the node that takes over moves the volume to itself
        try (Node node = NodeFixture.start(dir, TestDatabases.create(TestDatabases.Kind.H2, dir), second)) {
            Qcow2Images.scatter(image, 256L << 20, 4L << 20, 9);
            JobDocument moved = sync(node, job("mv-2", image, "c1", CopyMode.AUTO));
            assertEquals("completed", moved.status(), moved.error());
            assertEquals("incremental", moved.disks().get(0).mode());
            assertEquals(otherAppliance, cloud.volume(volumeId).orElseThrow().virtualMachineId());
            assertEquals(Qcow2Images.checksum(dir, image), DiskChecksum.ofFile(cloud.volumeFile(volumeId), 256L << 20));
            assertTrue(cloud.calls().stream().anyMatch(c -> c.command().equals("detachVolume")
                    && volumeId.equals(c.volumeId()) && appliance.equals(c.vmId())), cloud.calls().toString());

            // an operator attaches it to a VM of their own: BlockFerry does not take it away
            cloud.detachByHand(volumeId);
            String theirs = cloud.addVm("their-vm", "Running", null);
            cloud.attachByHand(volumeId, theirs);
            JobDocument refused = sync(node, job("mv-3", image, "c1", CopyMode.AUTO));
            assertEquals("failed", refused.status());
            assertTrue(refused.error().contains("which BlockFerry did not attach it to"), refused.error());
            assertEquals(theirs, cloud.volume(volumeId).orElseThrow().virtualMachineId());
        }
        assertTrue(cloud.calls().stream().noneMatch(c -> foreign.equals(c.volumeId())), "the foreign volume untouched");
    }

    @Test
    void cloudStackErrorsReachTheJobWithTheirCodeAndTransientOnesAreRetried() throws Exception {
        Path image = Qcow2Images.create(dir, "disk.qcow2", "64M", 50, 63);
        try (Node node = NodeFixture.start(dir, TestDatabases.create(TestDatabases.Kind.H2, dir), clouds())) {
            cloud.failNext("createVolume", 431, "Unable to execute API command createvolume due to invalid value");
            JobDocument refused = sync(node, job("err-431", image, "c1", CopyMode.AUTO));
            assertEquals("failed", refused.status());
            assertTrue(refused.error().contains("431") && refused.error().contains("invalid value"), refused.error());
            assertEquals(1, cloud.requests("createVolume"), "a parameter error is not retried");

            cloud.failNext("attachVolume", 530, "Internal error executing command");
            JobDocument retried = sync(node, job("err-530", image, "c1", CopyMode.AUTO));
            assertEquals("completed", retried.status(), retried.error());
            Volume v = onlyCreatedVolume();
            assertEquals(Qcow2Images.checksum(dir, image), DiskChecksum.ofFile(cloud.volumeFile(v.id()), 64L << 20));
        }
    }

    private static JobSpec twoDisks(String id, Path root, Path data, JobSpec.Options options) {
        return new JobSpec(id, "web 01", new JobSpec.Source("qemu"),
                List.of(new JobSpec.Disk("root", root.toString(), null), new JobSpec.Disk("data", data.toString(), null)),
                CopyMode.AUTO, options, null, JobSpec.Target.cloudstack("c1"));
    }

    @Test
    void theCutoverDetachesTheVolumesAndMakesAVmOfThemRootFirst() throws Exception {
        Path root = Qcow2Images.create(dir, "root.qcow2", "1G", 30, 71);
        Path data = Qcow2Images.create(dir, "data.qcow2", "512M", 20, 72);
        String template = cloud.addTemplate("placeholder", 1);
        String offering = java.util.UUID.randomUUID().toString();
        String network = java.util.UUID.randomUUID().toString();
        JobSpec.Options cutover = new JobSpec.Options(0, false, false, false, true, false, false,
                new JobSpec.CreateVm(offering, template, List.of(network), true));
        try (Node node = NodeFixture.start(dir, TestDatabases.create(TestDatabases.Kind.H2, dir), clouds())) {
            JobDocument full = sync(node, twoDisks("co-full", root, data, null));
            assertEquals("completed", full.status(), full.error());
            Qcow2Images.scatter(root, GIB, 8L << 20, 11);
            Qcow2Images.scatter(data, 512L << 20, 4L << 20, 12);

            JobDocument last = sync(node, twoDisks("co-final", root, data, cutover));
            assertEquals("completed", last.status(), last.error());
            assertEquals("incremental", last.disks().get(0).mode());
            assertEquals("cutover completed", last.cutover().step());
            String vmId = last.cutover().vmId();
            assertNotNull(vmId);
            String rootVolume = last.disks().get(0).volumeId();
            String dataVolume = last.disks().get(1).volumeId();
            Volume r = cloud.volume(rootVolume).orElseThrow();
            Volume d = cloud.volume(dataVolume).orElseThrow();
            assertEquals(vmId, r.virtualMachineId());
            assertEquals(Integer.valueOf(0), r.deviceId(), "the job's first disk is the VM's root");
            assertEquals("ROOT", r.type());
            assertEquals(vmId, d.virtualMachineId());
            List<Volume> ofVm = cloud.volumes().stream().filter(v -> vmId.equals(v.virtualMachineId())).toList();
            assertEquals(2, ofVm.size(), "the placeholder's ROOT is gone: " + ofVm);
            assertTrue(cloud.volumes().stream().noneMatch(v -> v.name().startsWith("ROOT-")),
                    "the placeholder's ROOT volume was deleted: " + cloud.volumes());
            assertEquals("Running", org.blockferry.engine.cloudstack.CloudStackApi.open(
                    cloud.cloud("c1", "zone-1", "custom", appliance, dir.resolve("dev"))).vmState(vmId));
            assertEquals(Qcow2Images.checksum(dir, root), DiskChecksum.ofFile(cloud.volumeFile(rootVolume), GIB));
            assertEquals(Qcow2Images.checksum(dir, data), DiskChecksum.ofFile(cloud.volumeFile(dataVolume),
                    512L << 20));
            assertTrue(cloud.calls().stream().anyMatch(c -> c.command().equals("detachVolume")
                    && rootVolume.equals(c.volumeId()) && appliance.equals(c.vmId())), cloud.calls().toString());

            // the VM's disks now: no later sync writes, detaches or deletes them
            JobDocument after = sync(node, twoDisks("co-after", root, data, null));
            assertEquals("failed", after.status());
            assertTrue(after.error().contains("became a disk of VM " + vmId), after.error());
            assertEquals(vmId, cloud.volume(rootVolume).orElseThrow().virtualMachineId());
        }
        assertTrue(cloud.calls().stream().noneMatch(c -> foreign.equals(c.volumeId())), "the foreign volume untouched");
    }

    @Test
    void aFailedFirstSyncDeletesTheVolumesItCreatedUnlessAskedToKeepThem() throws Exception {
        Path image = Qcow2Images.create(dir, "disk.qcow2", "64M", 50, 65);
        try (Node node = NodeFixture.start(dir, TestDatabases.create(TestDatabases.Kind.H2, dir), clouds())) {
            cloud.failNextAsync("attachVolume", 431, "Please specify a VM that is either running or stopped.");
            JobDocument failed = sync(node, job("del-1", image, "c1", CopyMode.AUTO));
            assertEquals("failed", failed.status());
            String created = failed.disks().get(0).volumeId();
            assertNotNull(created, "the volume was created before the attach failed");
            awaitGone(created);
            assertTrue(cloud.calls().stream().anyMatch(c -> c.command().equals("deleteVolume")
                    && created.equals(c.volumeId())), cloud.calls().toString());

            cloud.failNextAsync("attachVolume", 431, "Please specify a VM that is either running or stopped.");
            JobSpec keep = new JobSpec("del-2", "web 01", new JobSpec.Source("qemu"),
                    List.of(new JobSpec.Disk("d0", image.toString(), null)), CopyMode.AUTO,
                    new JobSpec.Options(0, false, false, false, false, true, false, null), null,
                    JobSpec.Target.cloudstack("c1"));
            JobDocument kept = sync(node, keep);
            assertEquals("failed", kept.status());
            String keptId = kept.disks().get(0).volumeId();
            Thread.sleep(1000);
            assertTrue(cloud.volume(keptId).isPresent(), "keep_volumes keeps it");

            // the next sync finds and uses the kept volume
            JobDocument next = sync(node, job("del-3", image, "c1", CopyMode.AUTO));
            assertEquals("completed", next.status(), next.error());
            assertEquals(keptId, next.disks().get(0).volumeId());
            assertEquals(Qcow2Images.checksum(dir, image), DiskChecksum.ofFile(cloud.volumeFile(keptId), 64L << 20));
        }
    }

    private void awaitGone(String volumeId) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (cloud.volume(volumeId).isPresent()) {
            assertTrue(System.nanoTime() < deadline, "volume " + volumeId + " still exists: " + cloud.calls());
            Thread.sleep(100);
        }
    }

    @Test
    void asyncJobsThatOutliveTheWaitLoseNoVolumeAndAreNotRepeated() throws Exception {
        Path image = Qcow2Images.create(dir, "disk.qcow2", "64M", 50, 67);
        Map<String, Object> config = new HashMap<>(clouds());
        config.put(Clouds.KEY + ".c1.async-timeout", "1s");
        cloud.pendingPolls(8); // each job does its work at once but says "pending" for ~4 s
        try (Node node = NodeFixture.start(dir, TestDatabases.create(TestDatabases.Kind.H2, dir), config)) {
            JobDocument done = sync(node, job("slow-1", image, "c1", CopyMode.AUTO));
            assertEquals("completed", done.status(), done.error());
            assertTrue(done.disks().get(0).retries() >= 2, "the create and the attach timed out once each: "
                    + done.disks().get(0).retries());
            Volume volume = onlyCreatedVolume();
            assertEquals(volume.id(), done.disks().get(0).volumeId());
            assertEquals(List.of("createVolume", "attachVolume"), cloud.calls().stream().map(c -> c.command())
                    .toList(), "neither sent twice: the id came with the create's reply and was recorded first");
            assertEquals(Qcow2Images.checksum(dir, image), DiskChecksum.ofFile(cloud.volumeFile(volume.id()),
                    64L << 20));
        }
    }

    @Test
    void aFirstSyncCancelledWhileProvisioningStopsAfterItsStepAndDeletesItsVolume() throws Exception {
        Path image = Qcow2Images.create(dir, "disk.qcow2", "64M", 50, 68);
        cloud.pendingPolls(6); // each async job answers "pending" for a few seconds
        try (Node node = NodeFixture.start(dir, TestDatabases.create(TestDatabases.Kind.H2, dir), clouds())) {
            JobSpec spec = job("cancel-1", image, "c1", CopyMode.AUTO).validated();
            assertInstanceOf(JobReply.Accepted.class, node.jobs().submit(spec).toCompletableFuture()
                    .get(60, TimeUnit.SECONDS));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            org.blockferry.engine.job.DiskState disk;
            do {
                assertTrue(System.nanoTime() < deadline, "the disk never showed its provisioning");
                Thread.sleep(50);
                disk = node.jobs().get(spec.jobId()).toCompletableFuture().get(30, TimeUnit.SECONDS).disk("d0");
            } while (disk.status() != org.blockferry.engine.job.JobState.DiskStatus.PROVISIONING
                    || disk.volumeId() == null);
            String created = disk.volumeId();
            assertInstanceOf(JobReply.Accepted.class, node.jobs().cancel(spec.jobId()).toCompletableFuture()
                    .get(60, TimeUnit.SECONDS));
            JobDocument cancelled = NodeFixture.awaitReadSide(node, spec.jobId(), Duration.ofMinutes(1));
            assertEquals("cancelled", cancelled.status());
            assertEquals(0, cancelled.disks().get(0).bytesWritten(), "nothing was copied");
            awaitGone(created);
            assertTrue(cloud.calls().stream().noneMatch(c -> c.command().equals("createVolume")
                    && !created.equals(c.volumeId())), "one volume was created: " + cloud.calls());
        }
    }

    @Test
    void anAttachedVolumesDeviceIsNeverAJobsPathEvenWhereDevicesAreAllowed() throws Exception {
        Path image = Qcow2Images.create(dir, "disk.qcow2", "64M", 50, 66);
        Map<String, Object> config = new HashMap<>(clouds());
        config.put("blockferry.storage.allowed-devices", List.of("/dev/loop*"));
        try (Node node = NodeFixture.start(dir, TestDatabases.create(TestDatabases.Kind.H2, dir), config)) {
            assertEquals("completed", sync(node, job("dev-1", image, "c1", CopyMode.AUTO)).status());
            Volume volume = onlyCreatedVolume();
            Path link;
            try (var links = Files.list(dir.resolve("dev"))) {
                link = links.filter(l -> l.getFileName().toString().equals("virtio-"
                        + volume.id().replace("-", "").substring(0, 20))).findFirst().orElseThrow();
            }
            Path loop = link.toRealPath();
            for (Path named : List.of(link, loop)) {
                JobSpec steal = new JobSpec("dev-steal", "vm", new JobSpec.Source("qemu"),
                        List.of(new JobSpec.Disk("d0", image.toString(), named.toString())), CopyMode.FULL, null);
                JobReply reply = node.jobs().submit(steal.validated()).toCompletableFuture().get(60, TimeUnit.SECONDS);
                JobReply.Rejected r = assertInstanceOf(JobReply.Rejected.class, reply, named.toString());
                assertEquals("disks[0].target", r.field(), r.message());
                assertTrue(r.message().contains("a device of a CloudStack volume"), r.message());
            }
            assertEquals(Qcow2Images.checksum(dir, image), DiskChecksum.ofFile(cloud.volumeFile(volume.id()),
                    64L << 20), "the volume was not written by the refused jobs");
        }
    }

    @Test
    void jobsNameOnlyTheNodesCloudsAndNeverAVolumeOrDevice() throws Exception {
        Path image = Qcow2Images.create(dir, "disk.qcow2", "64M", 50, 64);
        try (Node node = NodeFixture.start(dir, TestDatabases.create(TestDatabases.Kind.H2, dir), clouds())) {
            JobReply other = node.jobs().submit(job("h-1", image, "elsewhere", CopyMode.AUTO).validated())
                    .toCompletableFuture().get(60, TimeUnit.SECONDS);
            JobReply.Rejected r = assertInstanceOf(JobReply.Rejected.class, other);
            assertEquals("target.cloud", r.field(), r.message());
            assertTrue(r.message().contains("c1"), "names the configured clouds: " + r.message());
        }
        Path device = Files.createDirectories(dir.resolve("dev")).resolve("virtio-0123456789abcdef0123");
        for (String target : List.of("cloudstack://c1/bf-web_01-d0", "cloudstack://c1/" + foreign)) {
            JobSpec byHand = new JobSpec("h-2", "vm", new JobSpec.Source("qemu"),
                    List.of(new JobSpec.Disk("d0", image.toString(), target)), CopyMode.AUTO, null);
            InvalidInputException e = org.junit.jupiter.api.Assertions.assertThrows(InvalidInputException.class,
                    byHand::validated);
            assertEquals("disks[0].target", e.field(), e.getMessage());
        }
        JobSpec path = new JobSpec("h-3", "vm", new JobSpec.Source("qemu"),
                List.of(new JobSpec.Disk("d0", image.toString(), device.toString())), CopyMode.AUTO, null, null,
                JobSpec.Target.cloudstack("c1"));
        InvalidInputException e = org.junit.jupiter.api.Assertions.assertThrows(InvalidInputException.class,
                path::validated);
        assertEquals("disks[0].target", e.field(), e.getMessage());
        assertNotNull(cloud.volume(foreign).orElseThrow().virtualMachineId(), "the foreign volume stays attached");
        assertTrue(cloud.calls().isEmpty(), "nothing was created or attached: " + cloud.calls());
    }
}
