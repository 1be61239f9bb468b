package org.blockferry.api.node;

import static org.blockferry.api.node.VmwareSyncJobTest.MIB;
import static org.blockferry.api.node.VmwareSyncJobTest.PASSWORD;
import static org.blockferry.api.node.VmwareSyncJobTest.USER;
import static org.blockferry.api.node.VmwareSyncJobTest.assertTargetsEqualImages;
import static org.blockferry.api.node.VmwareSyncJobTest.sync;
import static org.blockferry.api.node.VmwareSyncJobTest.vcenter;
import static org.blockferry.api.node.VmwareSyncJobTest.vm;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.blockferry.engine.job.JobDocument;
import org.blockferry.engine.plan.CopyMode;
import org.blockferry.engine.source.vmware.testing.TestCertificates;
import org.blockferry.engine.source.vmware.testing.Vcsim;
import org.blockferry.engine.source.vmware.vim.VimClient;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.Test;

/**
 * The production data path of the vmware source: jobs without {@code source.datastore_map}
 * launch {@code nbdkit ... vddk libdir=... server=... password=+FILE thumbprint=... vm=moref=...
 * snapshot=... file=...} for each disk of the job's snapshot.
 *
 * <p>VMware's VDDK is proprietary and nbdkit-vddk-plugin is not in Debian, so neither can run
 * here. The first test runs the real nbdkit with a stand-in for the plugin ({@link VddkStandIn}:
 * it checks and records the parameters and serves the snapshot's frozen content). The second runs the real nbdkit with the real plugin name and checks the job fails
 * clearly, as it will on any node without the plugin.
 */
class VddkJobTest {

    @Test
    void jobsReadTheSnapshotThroughNbdkitVddkWithThePasswordInAPrivateFile() throws Exception {
        Path dir = TestPeers.scratchDirectory("vddk-job-");
        Path params = dir.resolve("vddk-params");
        Path libdir = Files.createDirectories(dir.resolve("vmware-vix-disklib-distrib"));
        try (Vcsim vcsim = Vcsim.secure(USER, PASSWORD);
             Node node = NodeFixture.start(dir, TestDatabases.create(TestDatabases.Kind.H2, dir), vcenter(vcsim, dir,
                     Map.of("blockferry.vmware.vddk.plugin", VddkStandIn.write(dir, params, dir.resolve("ds")).toString(),
                             "blockferry.vmware.vddk.libdir", libdir.toString(),
                             "blockferry.vmware.vddk.transports", "hotadd:nbdssl")))) {
            VmwareSyncJobTest.Vm vm = vm(vcsim, dir);
            String vmMoref;
            try (VimClient vim = vcsim.connect(USER, PASSWORD)) {
                vmMoref = vim.findByInventoryPath(Vcsim.VM_PATH).orElseThrow().value();
            }

            JobDocument full = sync(node, vm.jobViaVddk("vddk-full", CopyMode.AUTO));
            assertEquals("completed", full.status(), full.error());
            for (JobDocument.Disk d : full.disks()) {
                assertEquals("full", d.mode(), d.modeReason());
                assertEquals(6 * MIB, d.totalBytes(), "the sum of the '*' areas, not the capacity");
            }
            assertTargetsEqualImages(vm);

            List<String> first = Files.readAllLines(params);
            assertTrue(first.contains("libdir=" + libdir), first.toString());
            assertTrue(first.contains("server=" + vcsim.sdkUrl().getHost()), first.toString());
            assertTrue(first.contains("user=" + USER), first.toString());
            assertTrue(first.contains("thumbprint=" + TestCertificates.sha1Thumbprint(vcsim.sdkUrl())), first.toString());
            assertTrue(first.contains("vm=moref=" + vmMoref), first.toString());
            assertTrue(first.contains("file=[LocalDS_0] " + Vcsim.VM + "/disk1.vmdk"), first.toString());
            assertTrue(first.contains("file=[LocalDS_0] " + Vcsim.VM + "/disk2.vmdk"), first.toString());
            assertTrue(first.contains("transports=hotadd:nbdssl"), first.toString());
            List<String> snapshots = first.stream().filter(l -> l.startsWith("snapshot=")).distinct().toList();
            assertEquals(1, snapshots.size(), "both disks read the job's one snapshot: " + first);
            assertTrue(snapshots.get(0).matches("snapshot=snapshot-\\d+"), snapshots.toString());
            for (String l : first.stream().filter(l -> l.startsWith("password=")).toList()) {
                assertTrue(l.startsWith("password=+"), l);
                assertFalse(Files.exists(Path.of(l.substring("password=+".length()))),
                        "the password file is gone once the server is up: " + l);
            }
            assertFalse(String.join("\n", first).contains(PASSWORD), "the password itself is in no argument");
            String environment = Files.readString(Path.of(params + ".env"));
            assertTrue(environment.contains("PATH="), "the plugin's environment was recorded: " + environment);
            assertFalse(environment.contains(PASSWORD), "the password is not in nbdkit's environment");

            vm.write(0, 5 * MIB, 64 * 1024, 21);
            vm.write(1, 16 * MIB, MIB, 22);
            Files.delete(params);
            JobDocument next = sync(node, vm.jobViaVddk("vddk-next", CopyMode.INCREMENTAL));
            assertEquals("completed", next.status(), next.error());
            for (JobDocument.Disk d : next.disks()) {
                assertEquals("incremental", d.mode(), d.modeReason());
            }
            assertEquals(64 * 1024 + MIB, next.disks().stream().mapToLong(JobDocument.Disk::totalBytes).sum(),
                    "only the changed areas");
            assertTargetsEqualImages(vm);
            List<String> second = Files.readAllLines(params);
            assertFalse(second.stream().filter(l -> l.startsWith("snapshot=")).anyMatch(snapshots::contains),
                    "the next sync reads its own, newer snapshot: " + second);
            assertEquals(0, vcsim.snapshots(Vcsim.VM));
        }
    }

    @Test
    void withoutTheVddkPluginOrItsLibdirTheJobFailsClearlyAndLeavesNoSnapshot() throws Exception {
        Path dir = TestPeers.scratchDirectory("vddk-missing-");
        Path libdir = Files.createDirectories(dir.resolve("vmware-vix-disklib-distrib"));
        try (Vcsim vcsim = Vcsim.secure(USER, PASSWORD)) {
            VmwareSyncJobTest.Vm vm = vm(vcsim, dir);
            try (Node node = NodeFixture.start(dir, TestDatabases.create(TestDatabases.Kind.H2, dir),
                    vcenter(vcsim, dir, Map.of("blockferry.vmware.vddk.libdir", libdir.toString())))) {
                JobDocument row = sync(node, vm.jobViaVddk("no-plugin", CopyMode.AUTO));
                assertEquals("failed", row.status());
                assertTrue(row.error().contains("no 'vddk' plugin") && row.error().contains("nbdkit-vddk-plugin")
                        && row.error().contains("source.datastore_map"), row.error());
                assertTrue(row.error().contains("disk1.vmdk") || row.error().contains("disk2.vmdk"), row.error());
            }
            assertEquals(0, vcsim.snapshots(Vcsim.VM), "the snapshot is removed after the failure");
            Path other = Files.createDirectories(dir.resolve("second"));
            try (Node node = NodeFixture.start(other, TestDatabases.create(TestDatabases.Kind.H2, other),
                    vcenter(vcsim, dir, Map.of("blockferry.storage.allowed-roots", List.of(dir.toString()))))) {
                JobDocument row = sync(node, vm.jobViaVddk("no-libdir", CopyMode.AUTO));
                assertEquals("failed", row.status());
                assertTrue(row.error().contains("blockferry.vmware.vddk.libdir: is not set"), row.error());
            }
            for (Path t : vm.targets()) {
                assertFalse(Files.exists(t), "no target was created");
            }
            assertEquals(0, vcsim.snapshots(Vcsim.VM));
        }
    }
}
