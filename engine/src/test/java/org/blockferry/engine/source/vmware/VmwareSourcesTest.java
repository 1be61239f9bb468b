package org.blockferry.engine.source.vmware;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.endpoint.LocalExport;
import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.plan.CopyMode;
import org.blockferry.engine.source.ChangeToken;
import org.blockferry.engine.source.DiskSource;
import org.blockferry.engine.source.SourceRequest;
import org.blockferry.engine.source.vmware.testing.TestCertificates;
import org.blockferry.engine.source.vmware.testing.Vcsim;
import org.blockferry.engine.source.vmware.vim.VimClient;
import org.blockferry.engine.source.vmware.vim.VirtualDiskInfo;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Opening the disks of a vCenter VM through the node's entry point, against vcsim over https
 * configured as the node's vCenter {@code vc1}, in datastore-mapped mode: the VM's two disks are
 * sparse local images of 16 MiB.
 */
class VmwareSourcesTest {
    private static final String USER = "bf";
    private static final String PASSWORD = "s3cret";
    private static final String DS_PREFIX = "[LocalDS_0] " + Vcsim.VM + "/";
    private static final String TARGET = "target-fingerprint";

    private Vcsim vcsim;
    private ActorTestKit kit;
    private VmwareSources sources;
    private Path dir;
    private List<Integer> keys;
    private final List<DiskSource> opened = new ArrayList<>();

    @BeforeEach
    void start() throws IOException {
        vcsim = Vcsim.secure(USER, PASSWORD);
        kit = ActorTestKit.create();
        dir = TestPeers.scratchDirectory("vmware-sources-");
        Files.writeString(dir.resolve("password"), PASSWORD + "\n");
        sources = sources(vcsim.vcenter("vc1", USER, dir.resolve("password")));
        try (VimClient vim = vcsim.connect(USER, PASSWORD)) {
            keys = vim.virtualDisks(vim.findByInventoryPath(Vcsim.VM_PATH).orElseThrow()).stream()
                    .map(VirtualDiskInfo::key).toList();
        }
        Path ds = Files.createDirectories(dir.resolve("ds"));
        for (int i = 0; i < 2; i++) {
            Path image = ds.resolve("disk" + (i + 1) + ".vmdk");
            try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
                f.setLength(16 << 20);
            }
            vcsim.allocateFromImage(Vcsim.VM, keys.get(i), image);
        }
    }

    @AfterEach
    void stop() {
        opened.forEach(DiskSource::close);
        kit.shutdownTestKit();
        vcsim.close();
    }

    /** The node's way to the vCenters it is configured with. */
    private VmwareSources sources(Vcenter... vcenters) {
        return new VmwareSources(kit.system(), VmwareSettings.defaults().withVcenters(vcenters),
                LocalExport.Tools.fromConfig(ConfigFactory.load()).withSocketRoot(dir));
    }

    private SourceRequest request(String jobId, int disk, CopyMode mode, ChangeToken previous, String vcenter,
                                  String vmPath) {
        JobSpec.Source source = JobSpec.Source.vmware(vcenter, vmPath, Map.of(DS_PREFIX, dir.resolve("ds") + "/"));
        JobSpec.Disk d = new JobSpec.Disk("d" + (disk + 1), DS_PREFIX + "disk" + (disk + 1) + ".vmdk",
                dir.resolve("t" + disk + ".img").toString());
        return new SourceRequest(jobId, d, source, mode, false, Optional.ofNullable(previous), "target", TARGET);
    }

    private DiskSource open(String jobId, int disk, CopyMode mode, ChangeToken previous) throws IOException {
        DiskSource source = sources.open(request(jobId, disk, mode, previous, "vc1", Vcsim.VM_PATH));
        opened.add(source);
        return source;
    }

    private void close(DiskSource source) {
        opened.remove(source);
        source.close();
    }

    /** A completed first sync of disk 0: the token it left. */
    private ChangeToken firstSync() throws IOException {
        DiskSource first = open("first", 0, CopyMode.AUTO, null);
        ChangeToken token = first.changeToken(16 << 20, TARGET).orElseThrow();
        first.completed();
        close(first);
        vcsim.write(Vcsim.VM, keys.get(0), 1 << 20, 4096);
        return token;
    }

    @Test
    void everyDiskOfTheJobThatEnabledCbtIsAFullCopySayingSo() throws IOException {
        List<String> reasons = List.of(open("j", 0, CopyMode.AUTO, null).modeReason(),
                open("j", 1, CopyMode.AUTO, null).modeReason());
        assertEquals(List.of("change tracking was off on the VM (enabled it now): full copy",
                "change tracking was off on the VM (enabled it now): full copy"), reasons);
    }

    @Test
    void aDiskTheVmDoesNotHaveIsRefusedListingItsDisksBeforeAnySnapshot() throws IOException {
        JobSpec.Source source = JobSpec.Source.vmware("vc1", Vcsim.VM_PATH, Map.of(DS_PREFIX, dir.resolve("ds") + "/"));
        SourceRequest request = new SourceRequest("missing", new JobSpec.Disk("d9", DS_PREFIX + "disk9.vmdk",
                dir.resolve("t9.img").toString()), source, CopyMode.AUTO, false, Optional.empty(), "target", TARGET);
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> sources.open(request));
        assertEquals("disk d9 source", e.field());
        assertEquals("VM '" + Vcsim.VM_PATH + "' has no disk '" + DS_PREFIX + "disk9.vmdk' (its disks: " + DS_PREFIX
                + "disk1.vmdk (key " + keys.get(0) + "), " + DS_PREFIX + "disk2.vmdk (key " + keys.get(1) + "))",
                e.getMessage().substring(e.getMessage().indexOf("VM '")));
        assertEquals(0, vcsim.snapshots(Vcsim.VM));
    }

    @Test
    void closingTheLastDiskOfTheJobRemovesItsSnapshot() throws IOException {
        DiskSource first = open("j", 0, CopyMode.AUTO, null);
        DiskSource second = open("j", 1, CopyMode.AUTO, null);
        close(first);
        close(second);
        assertEquals(0, vcsim.snapshots(Vcsim.VM));
    }

    @Test
    void aSyncFromTheLastTokenIsIncremental() throws IOException {
        ChangeToken token = firstSync();
        assertEquals(CopyMode.INCREMENTAL, open("next", 0, CopyMode.AUTO, token).mode());
    }

    @Test
    void aChangeIdVcenterRejectsIsAFullCopyInAuto() throws IOException {
        ChangeToken token = firstSync();
        vcsim.failNext("QueryChangedDiskAreas", "FileFault");
        String reason = open("next", 0, CopyMode.AUTO, token).modeReason();
        assertTrue(reason.startsWith("vCenter rejected changeId '" + token.reference() + "' (FileFault)"), reason);
    }

    @Test
    void aChangeIdVcenterRejectsIsAnErrorInIncremental() throws IOException {
        ChangeToken token = firstSync();
        vcsim.failNext("QueryChangedDiskAreas", "FileFault");
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> open("next", 0, CopyMode.INCREMENTAL, token));
        assertTrue(e.getMessage().startsWith("disk d1 source: an incremental sync is not possible: vCenter rejected"),
                e.getMessage());
    }

    @Test
    void aDiskThatFailsToOpenLeavesNoSnapshot() throws IOException {
        ChangeToken token = firstSync();
        vcsim.failNext("QueryChangedDiskAreas", "FileFault");
        assertThrows(InvalidInputException.class, () -> open("next", 0, CopyMode.INCREMENTAL, token));
        assertEquals(0, vcsim.snapshots(Vcsim.VM));
    }

    @Test
    void aSyncThatFoundAnOrphanOfItsJobLeavesATokenTheNextSyncWillNotTrust() throws IOException {
        try (VimClient vim = vcsim.connect(USER, PASSWORD)) {
            vim.createSnapshot(vim.findByInventoryPath(Vcsim.VM_PATH).orElseThrow(), "blockferry-j", "", false);
        }
        ChangeToken token = open("j", 0, CopyMode.AUTO, null).changeToken(16 << 20, TARGET).orElseThrow();
        assertEquals(VmwareSync.UNTRUSTED, token.reference());
    }

    @Test
    void aRefusedLoginNamesTheVcentersUserAndAFixedPasswordFileWorksWithoutARestart() throws IOException {
        Files.writeString(dir.resolve("password"), "not-it\n");
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> sources.open(
                request("j", 0, CopyMode.AUTO, null, "vc1", Vcsim.VM_PATH)));
        assertEquals("blockferry.vmware.vcenters.vc1.user", e.field());
        assertEquals("blockferry.vmware.vcenters.vc1.user: vCenter vc1 (" + vcsim.sdkUrl() + ") refused the login of"
                + " 'bf' (InvalidLogin: wrong user name or password; the password is read from"
                + " blockferry.vmware.vcenters.vc1.password-file at each login)", e.getMessage());
        Files.writeString(dir.resolve("password"), PASSWORD + "\n"); // rotated back: read at the next login
        assertEquals(CopyMode.FULL, open("j", 0, CopyMode.AUTO, null).mode());
    }

    @Test
    void anUnreadablePasswordFileNamesItsSettingNotItsPath() throws IOException {
        Files.delete(dir.resolve("password"));
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> sources.open(
                request("j", 0, CopyMode.AUTO, null, "vc1", Vcsim.VM_PATH)));
        assertEquals("blockferry.vmware.vcenters.vc1.password-file: cannot be read (NoSuchFileException)",
                e.getMessage());
    }

    @Test
    void aMissingVmIsAnErrorOnSourceVm() {
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> sources.open(
                request("j", 0, CopyMode.AUTO, null, "vc1", "DC0/vm/nope")));
        assertEquals("source.vm: no VM at inventory path 'DC0/vm/nope' on vCenter vc1 (" + vcsim.sdkUrl() + ")",
                e.getMessage());
    }

    @Test
    void aVcenterTheNodeDoesNotKnowIsRefusedBeforeAnyLogin() {
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> sources.open(
                request("j", 0, CopyMode.AUTO, null, "vc9", Vcsim.VM_PATH)));
        assertEquals("source.vcenter: 'vc9' is not a vCenter of this node (configured: vc1)", e.getMessage());
    }

    /** vcsim's certificate is its own CA: as a PEM trust store it is trusted; another CA is not. */
    @Test
    void aVcenterIsTrustedThroughTheCaCertificatesOfItsTrustStore() throws Exception {
        Path own = Files.writeString(dir.resolve("vcsim-ca.pem"), TestCertificates.serverPem(vcsim.sdkUrl()));
        Vcenter byCa = new Vcenter("ca", vcsim.sdkUrl(), USER, dir.resolve("password"), null, own, null, false);
        Vcenter wrongCa = new Vcenter("wrong-ca", vcsim.sdkUrl(), USER, dir.resolve("password"), null,
                TestCertificates.caPem(dir, "other-ca"), null, false);
        sources = sources(byCa, wrongCa);
        DiskSource trusted = sources.open(request("j", 0, CopyMode.AUTO, null, "ca", Vcsim.VM_PATH));
        opened.add(trusted);
        assertEquals(CopyMode.FULL, trusted.mode());
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> sources.open(
                request("k", 0, CopyMode.AUTO, null, "wrong-ca", Vcsim.VM_PATH)));
        assertEquals("blockferry.vmware.vcenters.wrong-ca.trust-store", e.field());
        assertTrue(e.getMessage().contains("is not trusted"), e.getMessage());
    }
}
