package org.blockferry.api.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.blockferry.engine.actor.JobReply;
import org.blockferry.engine.cloudstack.Cloud;
import org.blockferry.engine.cloudstack.CloudStackDouble;
import org.blockferry.engine.cloudstack.Volume;
import org.blockferry.engine.job.JobDocument;
import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.plan.CopyMode;
import org.blockferry.engine.testing.DebianGuestImage;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A cutover with guest conversion through the job path: a real Debian 12 guest (sda names, no
 * virtio in its initramfs) is synced into a CloudStack volume (API double, loop device) and its
 * final sync converts it in place with virt-v2v-in-place before the VM is made of it; the
 * converted volume then boots from a virtio disk to a login prompt (qemu, TCG).
 */
class CloudStackConversionTest {

    @Test
    @Timeout(value = 25, unit = TimeUnit.MINUTES)
    void theFinalSyncConvertsTheGuestOnItsVolumeBeforeTheVmIsMade() throws Exception {
        CloudStackDouble.requireLoopDevices();
        DebianGuestImage.requirePrograms("guest conversion", "virt-v2v-in-place", "virt-v2v", "debugfs", "e2fsprogs");
        Path dir = TestPeers.scratchDirectory("cloudstack-convert-");
        Path image = DebianGuestImage.copy(DebianGuestImage.cached(), dir.resolve("debian12.img"));
        try (CloudStackDouble cloud = CloudStackDouble.start("api-key-2", "secret-2", dir.resolve("cloud"))) {
            cloud.addZone("zone-1");
            cloud.addDiskOffering("custom", true);
            String appliance = cloud.addVm("appliance-1", "Running", dir.resolve("dev"));
            String template = cloud.addTemplate("placeholder", 1);
            Cloud c = cloud.cloud("c1", "zone-1", "custom", appliance, dir.resolve("dev"));
            Map<String, Object> config = new HashMap<>(CloudStackDouble.nodeConfig(c));
            // a KVM that hangs (this machine's nested one) is given up after 10 s for emulation
            config.put("blockferry.cloudstack.conversion.kvm-launch-timeout", "10s");
            JobSpec spec = new JobSpec("convert-1", "debian12", new JobSpec.Source("nbd"),
                    List.of(new JobSpec.Disk("root", image.toString(), null)), CopyMode.FULL,
                    new JobSpec.Options(0, false, false, false, true, false, true, new JobSpec.CreateVm(
                            UUID.randomUUID().toString(), template, List.of(), false)),
                    null, JobSpec.Target.cloudstack("c1")).validated();
            try (Node node = NodeFixture.start(dir, TestDatabases.create(TestDatabases.Kind.H2, dir), config)) {
                JobReply reply = node.jobs().submit(spec).toCompletableFuture().get(60, TimeUnit.SECONDS);
                assertInstanceOf(JobReply.Accepted.class, reply, reply.toString());
                JobDocument done = NodeFixture.awaitReadSide(node, spec.jobId(), Duration.ofMinutes(20));
                assertEquals("completed", done.status(), done.error());
                String conversion = done.cutover().conversion();
                assertTrue(conversion.startsWith("debian12, root on /dev/loop"), conversion);
                assertTrue(conversion.contains("(/dev/sda1)"), "the root file system as inspection saw it: "
                        + conversion);
                assertTrue(conversion.contains("This guest has virtio drivers installed."), conversion);

                String volumeId = done.disks().get(0).volumeId();
                Volume root = cloud.volume(volumeId).orElseThrow();
                assertEquals(done.cutover().vmId(), root.virtualMachineId());
                assertEquals(Integer.valueOf(0), root.deviceId());
                Path volume = cloud.volumeFile(volumeId);
                List<String> fstab = Arrays.stream(DebianGuestImage.readFile(volume, DebianGuestImage.ROOT_OFFSET,
                        "/etc/fstab").split("\n")).filter(l -> !l.isBlank() && !l.startsWith("#")).toList();
                assertEquals(List.of("/dev/vda1 / ext4 errors=remount-ro 0 1"), fstab, "converted on the volume");
                String initrd = DebianGuestImage.list(volume, DebianGuestImage.ROOT_OFFSET, "/boot").stream()
                        .filter(n -> n.startsWith("initrd.img-") && !n.endsWith(".pre-v2v")).findFirst()
                        .orElseThrow();
                List<String> modules = DebianGuestImage.initramfs(volume, DebianGuestImage.ROOT_OFFSET, initrd,
                        dir.resolve("initrd"));
                assertTrue(modules.stream().anyMatch(m -> m.endsWith("/virtio_blk.ko")), "virtio_blk in the initramfs");
                assertTrue(modules.stream().anyMatch(m -> m.endsWith("/virtio_pci.ko")), "virtio_pci in the initramfs");
                assertFalse(DebianGuestImage.readFile(image, DebianGuestImage.ROOT_OFFSET, "/etc/fstab")
                        .contains("/dev/vda1"), "the source was not touched");
                Path serial = dir.resolve("serial.log");
                assertTrue(DebianGuestImage.bootsToLoginPrompt(volume, serial, Duration.ofSeconds(120)),
                        "the converted volume boots from a virtio disk to a login prompt; see " + serial);
            }
        }
    }
}
