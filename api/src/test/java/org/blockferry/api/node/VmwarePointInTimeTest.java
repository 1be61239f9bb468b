package org.blockferry.api.node;

import static org.blockferry.api.node.VmwareSyncJobTest.MIB;
import static org.blockferry.api.node.VmwareSyncJobTest.PASSWORD;
import static org.blockferry.api.node.VmwareSyncJobTest.USER;
import static org.blockferry.api.node.VmwareSyncJobTest.assertTargetsEqualImages;
import static org.blockferry.api.node.VmwareSyncJobTest.awaitSnapshots;
import static org.blockferry.api.node.VmwareSyncJobTest.sync;
import static org.blockferry.api.node.VmwareSyncJobTest.vcenter;
import static org.blockferry.api.node.VmwareSyncJobTest.vm;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.blockferry.engine.actor.JobReply;
import org.blockferry.engine.job.JobDocument;
import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.plan.CopyMode;
import org.blockferry.engine.source.vmware.testing.Vcsim;
import org.blockferry.engine.source.vmware.vim.ManagedObject;
import org.blockferry.engine.source.vmware.vim.VimClient;
import org.blockferry.nbd.testing.DiskChecksum;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.Test;

/**
 * The README's VMware flow against a simulator that keeps snapshots as vSphere does (delta
 * disks, the snapshot's own configuration, content frozen at the snapshot), read through the
 * VDDK stand-in ({@link VddkStandIn}) as a node reads a real vCenter: every target equals the
 * state of its sync's snapshot, an incremental moves the areas written between two snapshots in
 * whole 64 KiB CBT blocks, and a guest write during a sync waits for the next one.
 */
class VmwarePointInTimeTest {
    private static final long BLOCK = 64 * 1024;

    private static Node node(Path dir, Vcsim vcsim, Path params) throws Exception {
        Path libdir = Files.createDirectories(dir.resolve("vmware-vix-disklib-distrib"));
        Files.createDirectories(dir.resolve("ds"));
        return NodeFixture.start(dir, TestDatabases.create(TestDatabases.Kind.H2, dir), vcenter(vcsim, dir,
                Map.of("blockferry.vmware.vddk.plugin", VddkStandIn.write(dir, params, dir.resolve("ds")).toString(),
                        "blockferry.vmware.vddk.libdir", libdir.toString())));
    }

    @Test
    void fullIncrementalWhileTheGuestWritesThenCutoverEachCopyTheirSnapshotsState() throws Exception {
        Path dir = TestPeers.scratchDirectory("vmware-pit-");
        Path params = dir.resolve("vddk-params");
        try (Vcsim vcsim = Vcsim.secure(USER, PASSWORD); Node node = node(dir, vcsim, params)) {
            VmwareSyncJobTest.Vm vm = vm(vcsim, dir); // disk 1 named by its VMDK path, disk 2 by its key

            JobDocument full = sync(node, vm.jobViaVddk("pit-full", CopyMode.AUTO));
            assertEquals("completed", full.status(), full.error());
            assertTargetsEqualImages(vm);
            assertEquals(0, vcsim.snapshots(Vcsim.VM));

            vm.write(0, 5 * MIB + 1000, 3000, 31); // inside one CBT block
            vm.write(1, 16 * MIB - 100, 200, 32); // across a block boundary: two blocks
            List<String> atSnapshot = checksums(vm.images());
            Path slow = Files.createFile(dir.resolve("ds").resolve("slow")); // every read waits 1 s
            JobSpec next = vm.jobViaVddk("pit-next", CopyMode.INCREMENTAL);
            JobReply reply = node.jobs().submit(next).toCompletableFuture().get(60, TimeUnit.SECONDS);
            assertInstanceOf(JobReply.Accepted.class, reply, reply.toString());
            awaitSnapshots(vcsim, n -> n == 1, Duration.ofSeconds(60), "the sync took its snapshot");
            vm.write(0, 5 * MIB, BLOCK, 33); // the guest rewrites the block the sync is about to read
            assertEquals(1, vcsim.snapshots(Vcsim.VM), "the write landed while the sync held its snapshot");
            JobDocument during = NodeFixture.awaitReadSide(node, next.jobId(), Duration.ofMinutes(3));
            Files.delete(slow);
            assertEquals("completed", during.status(), during.error());
            assertEquals(List.of(BLOCK, 2 * BLOCK), during.disks().stream().map(JobDocument.Disk::totalBytes).toList(),
                    "only the CBT blocks written between the two snapshots");
            assertEquals(atSnapshot, checksums(vm.targets()), "the targets hold the snapshot's state");
            assertNotEquals(DiskChecksum.ofFile(vm.images().get(0)), DiskChecksum.ofFile(vm.targets().get(0)),
                    "the write made during the sync is not in its target");
            assertEquals(0, vcsim.snapshots(Vcsim.VM));

            JobDocument carried = sync(node, vm.jobViaVddk("pit-carry", CopyMode.INCREMENTAL));
            assertEquals("completed", carried.status(), carried.error());
            assertEquals(List.of(BLOCK, 0L), carried.disks().stream().map(JobDocument.Disk::totalBytes).toList(),
                    "the next sync carries the write made during the last one");
            assertTargetsEqualImages(vm);

            vm.write(1, 30 * MIB, 2 * BLOCK, 34);
            JobSpec plain = vm.jobViaVddk("pit-cutover", CopyMode.INCREMENTAL);
            JobDocument cutover = sync(node, new JobSpec(plain.jobId(), plain.vm(), plain.source(), plain.disks(),
                    CopyMode.INCREMENTAL, new JobSpec.Options(0, false, false, false, true)).validated());
            assertEquals("completed", cutover.status(), cutover.error());
            assertEquals(List.of(0L, 2 * BLOCK), cutover.disks().stream().map(JobDocument.Disk::totalBytes).toList());
            assertTargetsEqualImages(vm);
            try (VimClient vim = vcsim.connect(USER, PASSWORD)) {
                assertEquals("poweredOff", vim.powerState(vim.findByInventoryPath(Vcsim.VM_PATH).orElseThrow()));
            }
            assertEquals(0, vcsim.snapshots(Vcsim.VM));
        }
    }

    @Test
    void aVmOnSomeoneElsesSnapshotIsReadFromItsDeltaAndOnlyOurSnapshotIsRemoved() throws Exception {
        Path dir = TestPeers.scratchDirectory("vmware-chain-");
        Path params = dir.resolve("vddk-params");
        try (Vcsim vcsim = Vcsim.secure(USER, PASSWORD); Node node = node(dir, vcsim, params);
             VimClient vim = vcsim.connect(USER, PASSWORD)) {
            VmwareSyncJobTest.Vm vm = vm(vcsim, dir);
            ManagedObject machine = vim.findByInventoryPath(Vcsim.VM_PATH).orElseThrow();
            ManagedObject theirs = vim.createSnapshot(machine, "backup-tool", "a backup product's snapshot", false);
            vm.write(0, 2 * MIB, BLOCK, 41); // on the delta the VM now runs on

            JobDocument row = sync(node, vm.jobViaVddk("chain-full", CopyMode.AUTO));
            assertEquals("completed", row.status(), row.error());
            assertTargetsEqualImages(vm);
            List<String> read = Files.readAllLines(params);
            assertTrue(read.contains("file=[LocalDS_0] " + Vcsim.VM + "/disk1-000001.vmdk"),
                    "the job named the base disk; VDDK read the delta our snapshot froze: " + read);
            assertEquals(List.of(theirs), vim.snapshotsNamed(machine, "backup-tool"), "their snapshot stays");
            assertEquals(1, vcsim.snapshots(Vcsim.VM), "ours is gone");

            JobDocument mapped = sync(node, vm.job("chain-mapped", CopyMode.AUTO));
            assertEquals("failed", mapped.status());
            assertTrue(mapped.error().contains("runs on the delta disk [LocalDS_0] " + Vcsim.VM + "/disk")
                    && mapped.error().contains("source.datastore_map reads flat base disks only"), mapped.error());
            assertEquals(1, vcsim.snapshots(Vcsim.VM), "the refused job removed its own snapshot only");
            vim.removeSnapshot(theirs);
            assertEquals(0, vcsim.snapshots(Vcsim.VM));
        }
    }

    private static List<String> checksums(List<Path> files) {
        return files.stream().map(DiskChecksum::ofFile).toList();
    }
}
