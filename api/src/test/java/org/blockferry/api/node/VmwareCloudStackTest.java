package org.blockferry.api.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.blockferry.engine.actor.JobReply;
import org.blockferry.engine.cloudstack.Cloud;
import org.blockferry.engine.cloudstack.CloudStackApi;
import org.blockferry.engine.cloudstack.CloudStackDouble;
import org.blockferry.engine.cloudstack.Volume;
import org.blockferry.engine.job.JobDocument;
import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.plan.CopyMode;
import org.blockferry.engine.source.vmware.testing.Vcsim;
import org.blockferry.engine.source.vmware.vim.VimClient;
import org.blockferry.nbd.testing.DiskChecksum;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A whole VM from VMware (vcsim with the project's CBT layer, datastore-mapped mode: the VM's two
 * VMDKs are local raw images the test writes as the guest would) into CloudStack (the API double,
 * real loop devices behind the volumes attached to the node's appliance): a whole-VM job (no disks,
 * a cloudstack target) provisions a volume per disk on its full sync, the next sync moves only the
 * changed areas CBT reports into the same volumes, and the final sync shuts the VM down in vCenter,
 * moves the last changes, detaches the volumes and makes a CloudStack VM of them, the VM's first
 * disk its ROOT. After every sync each volume holds its disk's bytes; only what BlockFerry created
 * was touched.
 */
class VmwareCloudStackTest {
    private static final long MIB = 1L << 20;
    private static final long GIB = 1L << 30;
    private static final String USER = VmwareSyncJobTest.USER;
    private static final String PASSWORD = VmwareSyncJobTest.PASSWORD;

    private Path dir;
    private CloudStackDouble cloud;
    private String appliance;
    private String foreign;

    @BeforeEach
    void startCloud() throws Exception {
        CloudStackDouble.requireLoopDevices();
        dir = TestPeers.scratchDirectory("vmware-cloudstack-");
        cloud = CloudStackDouble.start("api-key-vm", "secret-key-vm", dir.resolve("cloud"));
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

    private Cloud c1() {
        return cloud.cloud("c1", "zone-1", "custom", appliance, dir.resolve("dev"));
    }

    /** The node's configuration: vCenter vc1 (the simulator) and cloud c1 (the double). */
    private Map<String, Object> config(Vcsim vcsim) throws Exception {
        Map<String, Object> m = new HashMap<>(VmwareSyncJobTest.vcenter(vcsim, dir,
                Map.of("blockferry.vmware.shutdown-timeout", "20s")));
        m.putAll(CloudStackDouble.nodeConfig(c1()));
        return m;
    }

    /** A whole-VM job of the simulator's VM into cloud c1, expanded by the node as the API does. */
    private static JobSpec wholeVm(Node node, String jobId, Path dir, JobSpec.Options options) throws Exception {
        JobSpec spec = new JobSpec(jobId, Vcsim.VM, JobSpec.Source.vmware(VmwareSyncJobTest.VC, Vcsim.VM_PATH,
                Map.of(VmwareSyncJobTest.DS_PREFIX, dir.resolve("ds") + "/")), null, CopyMode.AUTO, options, null,
                JobSpec.Target.cloudstack("c1"));
        assertTrue(spec.wholeVm(), "no disks and a cloudstack target: a whole-VM job");
        return node.wholeVmJobs().expand(spec, 16).validated();
    }

    private static JobDocument sync(Node node, JobSpec spec) throws Exception {
        JobReply reply = node.jobs().submit(spec).toCompletableFuture().get(60, TimeUnit.SECONDS);
        assertInstanceOf(JobReply.Accepted.class, reply, reply.toString());
        return NodeFixture.awaitReadSide(node, spec.jobId(), Duration.ofMinutes(3));
    }

    /** Every disk's volume holds the disk's bytes (over the disk's size; the volume is whole GiB). */
    private void assertVolumesEqualImages(VmwareSyncJobTest.Vm vm, JobDocument doc, String when) {
        for (int i = 0; i < 2; i++) {
            JobDocument.Disk d = doc.disks().get(i);
            assertEquals(String.valueOf(vm.keys().get(i)), d.id(), "the job's disks in the VM's order");
            assertNotNull(d.volumeId(), when + ": disk " + d.id() + " has a volume");
            assertEquals(DiskChecksum.ofFile(vm.images().get(i)), DiskChecksum.ofFile(cloud.volumeFile(d.volumeId()),
                    32 * MIB), when + ": volume of disk " + d.id() + " equals the disk");
        }
    }

    private String powerState(Vcsim vcsim) throws Exception {
        try (VimClient vim = vcsim.connect(USER, PASSWORD)) {
            return vim.powerState(vim.findByInventoryPath(Vcsim.VM_PATH).orElseThrow());
        }
    }

    @Test
    void aWholeVmSyncsIntoCloudStackVolumesIncrementallyAndIsCutOverIntoACloudStackVm() throws Exception {
        String template = cloud.addTemplate("placeholder", 1);
        String offering = UUID.randomUUID().toString();
        String network = UUID.randomUUID().toString();
        try (Vcsim vcsim = Vcsim.secure(USER, PASSWORD);
             Node node = NodeFixture.start(dir, TestDatabases.create(TestDatabases.Kind.H2, dir), config(vcsim))) {
            VmwareSyncJobTest.Vm vm = VmwareSyncJobTest.vm(vcsim, dir);

            // full: a volume per disk, created, attached to the appliance, written in place
            JobSpec fullSpec = wholeVm(node, "vc-cs-full", dir, null);
            assertEquals(2, fullSpec.disks().size(), "the node listed the VM's disks: " + fullSpec.disks());
            JobDocument full = sync(node, fullSpec);
            assertEquals("completed", full.status(), full.error());
            long allocated = 0;
            for (int i = 0; i < 2; i++) {
                JobDocument.Disk d = full.disks().get(i);
                String key = String.valueOf(vm.keys().get(i));
                assertEquals("full", d.mode(), d.modeReason());
                assertEquals(6 * MIB, d.totalBytes(), "total_bytes = the allocated areas, not the capacity");
                assertEquals("cloudstack://c1/bf-" + Vcsim.VM + "-" + key, d.target());
                Volume v = cloud.volume(d.volumeId()).orElseThrow();
                assertEquals("bf-" + Vcsim.VM + "-" + key, v.name());
                assertEquals(GIB, v.sizeBytes(), "32 MiB disk, 1 GiB volume");
                assertEquals(appliance, v.virtualMachineId(), "stays attached to the appliance between syncs");
                allocated += d.totalBytes();
            }
            assertEquals(allocated, full.totalBytes());
            assertVolumesEqualImages(vm, full, "full");
            assertEquals(0, vcsim.snapshots(Vcsim.VM), "the job's snapshot is removed");
            String rootVolume = full.disks().get(0).volumeId();
            String dataVolume = full.disks().get(1).volumeId();
            Set<String> ours = Set.of(rootVolume, dataVolume);
            assertEquals(2, ours.size());

            // incremental: only what CBT reports changed, into the same volumes
            vm.write(0, 2 * MIB, MIB, 1); // next to allocated data
            vm.write(0, 14 * MIB, 512 * 1024, 2); // into a hole
            vm.write(1, 31 * MIB, MIB, 3);
            long[] changed = {MIB + 512 * 1024, MIB};
            JobDocument inc = sync(node, wholeVm(node, "vc-cs-inc", dir, null));
            assertEquals("completed", inc.status(), inc.error());
            for (int i = 0; i < 2; i++) {
                JobDocument.Disk d = inc.disks().get(i);
                assertEquals("incremental", d.mode(), d.modeReason());
                assertTrue(d.modeReason().contains("changes since changeId"), d.modeReason());
                assertEquals(changed[i], d.totalBytes(), "total_bytes = the changed bytes");
                assertTrue(d.bytesWritten() + d.bytesZeroed() <= changed[i], "moved only the changes: " + d);
                assertEquals(full.disks().get(i).volumeId(), d.volumeId(), "the same volume");
            }
            assertEquals(changed[0] + changed[1], inc.totalBytes());
            assertVolumesEqualImages(vm, inc, "incremental");
            assertEquals("poweredOn", powerState(vcsim));
            List<String> beforeCutover = cloud.calls().stream().map(c -> c.command() + " " + c.volumeId()).sorted()
                    .toList();
            assertEquals(List.of("attachVolume " + dataVolume, "attachVolume " + rootVolume,
                    "createVolume " + dataVolume, "createVolume " + rootVolume).stream().sorted().toList(),
                    beforeCutover, "each volume created and attached once; the incremental touched nothing");

            // final sync: the VM shut down in vCenter, the last changes moved, the volumes made a VM
            vm.write(0, 5 * MIB, MIB, 11);
            vm.write(1, 12 * MIB, 2 * MIB, 12);
            JobSpec.Options cutover = new JobSpec.Options(0, false, false, false, true, false, false,
                    new JobSpec.CreateVm(offering, template, List.of(network), true));
            JobDocument last = sync(node, wholeVm(node, "vc-cs-cutover", dir, cutover));
            assertEquals("completed", last.status(), last.error());
            long[] lastChanged = {MIB, 2 * MIB};
            for (int i = 0; i < 2; i++) {
                JobDocument.Disk d = last.disks().get(i);
                assertEquals("incremental", d.mode(), d.modeReason());
                assertEquals(lastChanged[i], d.totalBytes(), "the final sync moved the last changes");
            }
            assertEquals("poweredOff", powerState(vcsim), "the final sync shut the source VM down");
            assertEquals(0, vcsim.snapshots(Vcsim.VM));
            assertVolumesEqualImages(vm, last, "cutover");
            assertEquals("cutover completed", last.cutover().step());
            String vmId = last.cutover().vmId();
            assertNotNull(vmId);
            Volume r = cloud.volume(rootVolume).orElseThrow();
            Volume d = cloud.volume(dataVolume).orElseThrow();
            assertEquals(vmId, r.virtualMachineId());
            assertEquals(Integer.valueOf(0), r.deviceId(), "the job's first disk is the VM's root");
            assertEquals("ROOT", r.type());
            assertEquals(vmId, d.virtualMachineId(), "the other disk is attached to the VM");
            assertTrue(d.deviceId() != null && d.deviceId() > 0, "a data disk: " + d);
            List<Volume> ofVm = cloud.volumes().stream().filter(v -> vmId.equals(v.virtualMachineId())).toList();
            assertEquals(2, ofVm.size(), "the VM has the job's volumes and no other: " + ofVm);
            assertEquals("Running", CloudStackApi.open(c1()).vmState(vmId));

            // the placeholder's ROOT: deployed with the VM, detached and deleted; nothing else touched
            List<CloudStackDouble.Call> calls = cloud.calls();
            List<String> deleted = calls.stream().filter(c -> c.command().equals("deleteVolume"))
                    .map(CloudStackDouble.Call::volumeId).toList();
            assertEquals(1, deleted.size(), "one volume deleted, the placeholder's ROOT: " + calls);
            String placeholderRoot = deleted.get(0);
            assertFalse(ours.contains(placeholderRoot) || foreign.equals(placeholderRoot), calls.toString());
            assertTrue(cloud.volume(placeholderRoot).isEmpty(), "the placeholder's ROOT is gone");
            assertTrue(cloud.volumes().stream().noneMatch(v -> v.name().startsWith("ROOT-")),
                    "no placeholder ROOT volume is left: " + cloud.volumes());
            for (CloudStackDouble.Call c : calls) {
                assertEquals(0, c.errorCode(), "every call succeeded: " + c);
                assertTrue(c.volumeId() == null || ours.contains(c.volumeId()) || placeholderRoot.equals(c.volumeId()),
                        "touched only the volumes BlockFerry created (and the VM it deployed): " + c);
            }
            for (String v : ours) {
                List<String> life = calls.stream().filter(c -> v.equals(c.volumeId()))
                        .map(c -> c.command() + " " + (c.vmId() == null ? "-" : c.vmId().equals(appliance) ? "appliance"
                                : c.vmId().equals(vmId) ? "vm" : c.vmId())).toList();
                assertEquals(List.of("createVolume -", "attachVolume appliance", "detachVolume appliance",
                        "attachVolume vm"), life, "volume " + v);
            }
            assertTrue(calls.stream().anyMatch(c -> c.command().equals("deployVirtualMachine")), calls.toString());
            assertTrue(calls.stream().noneMatch(c -> foreign.equals(c.volumeId())), "the foreign volume untouched");
            assertEquals(appliance, cloud.volume(foreign).orElseThrow().virtualMachineId(),
                    "the foreign volume stays attached to the appliance");
        }
    }
}
