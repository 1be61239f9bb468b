package org.blockferry.engine.endpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.blockferry.engine.endpoint.StoragePolicy.Access;
import org.blockferry.engine.target.NbdDiskTarget;
import org.blockferry.engine.testing.FileTree;
import org.blockferry.nbd.NbdConnection;
import org.blockferry.nbd.NbdOptions;
import org.blockferry.nbd.testing.QemuNbdServer;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Local exports under a restricted storage policy, against real nbdkit, qemu-nbd and qemu-img:
 * a file swapped between the check and the server's open, or after it (nbdkit opens the file
 * again for every connection), is caught by reading what the server holds open, the export is
 * stopped and the file outside the allowed root stays as it was; a qcow2 image's backing chain
 * and data file pass the policy; new targets are created 0600; a block device is allowed only by
 * a glob; the servers get a minimal environment.
 */
@Timeout(120)
class LocalExportPolicyTest {
    private static final int SIZE = 1 << 20;
    private Path dir;
    private Path roots;
    private Path outside;
    private StoragePolicy policy;
    private LocalExport.Tools tools;

    @BeforeEach
    void layOut() throws Exception {
        TestPeers.require("nbdkit", "nbdkit");
        TestPeers.require("qemu-nbd", "qemu-utils");
        dir = TestPeers.scratchDirectory("export-policy-");
        roots = Files.createDirectories(dir.resolve("roots"));
        outside = Files.createDirectories(dir.resolve("outside"));
        byte[] secret = new byte[SIZE];
        new Random(7).nextBytes(secret);
        Files.write(outside.resolve("secret.img"), secret);
        policy = StoragePolicy.builder().allowRoot(roots.toString()).dataDir(dir.resolve("node"))
                .keyDir(dir.resolve("node/keys")).exportRoot(dir).build();
        tools = LocalExport.Tools.fromConfig(ConfigFactory.load()).withSocketRoot(dir).withStorage(policy);
    }

    private Path image(String name) throws Exception {
        Path p = roots.resolve(name);
        Files.write(p, new byte[SIZE]);
        return p;
    }

    /** {@code path} now leads to the outside file (the original moved aside). */
    private void swapForLinkOut(Path path) throws Exception {
        Files.move(path, path.resolveSibling(path.getFileName() + ".orig"));
        Files.createSymbolicLink(path, outside.resolve("secret.img"));
    }

    private static void assertRefusal(String field, InvalidInputException e, String says) {
        assertEquals(field, e.field(), e.getMessage());
        assertTrue(e.getMessage().contains(says), e.getMessage());
    }

    @Test
    void aSourceSwappedBetweenTheCheckAndTheServersOpenIsCaughtAndTheExportStopped() throws Exception {
        Path image = image("a.img");
        StoragePolicy.Checked checked = LocalExport.checkImage("disk d0 source", image, Access.READ, tools);
        FileTree before = FileTree.of(outside);
        swapForLinkOut(image);
        long serversBefore = nbdServers();
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> LocalExport.startChecked("disk d0 source", checked, false, List.of(), tools).close());
        assertRefusal("disk d0 source", e, "was replaced while its NBD server opened it (it holds another file open)");
        assertEquals(before, FileTree.of(outside));
        awaitServers(serversBefore);
    }

    @Test
    void aTargetSwappedBetweenTheCheckAndTheServersOpenIsNeverWritten() throws Exception {
        Path image = image("t.img");
        StoragePolicy.Checked checked = LocalExport.checkImage("disk d0 target", image, Access.WRITE, tools);
        FileTree before = FileTree.of(outside);
        swapForLinkOut(image);
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> LocalExport.startChecked("disk d0 target", checked, true, List.of(), tools).close());
        assertRefusal("disk d0 target", e, "was replaced while its NBD server opened it");
        assertEquals(before, FileTree.of(outside));
    }

    @Test
    void aTargetSwappedAfterItsExportStartedIsCaughtAtTheNextConnection() throws Exception {
        Path image = image("later.img");
        FileTree before = FileTree.of(outside);
        try (NbdDiskTarget target = NbdDiskTarget.open("disk d0 target", new DiskLocation.LocalImage(image), SIZE,
                NbdOptions.DEFAULT, tools)) {
            try (NbdConnection first = NbdConnection.open(target.uri(), target.options().withHandleName("first"))) {
                assertEquals(SIZE, first.size(), "the checked file is served");
            }
            swapForLinkOut(image); // nbdkit's file plugin opens the name again for each connection
            InvalidInputException e = assertThrows(InvalidInputException.class,
                    () -> NbdConnection.open(target.uri(), target.options().withHandleName("second")).close());
            assertRefusal("disk d0 target", e, "was replaced while its NBD server opened it");
            // the refusal stopped the server: nothing more reaches the file through this export
            assertThrows(org.blockferry.nbd.NbdException.class,
                    () -> NbdConnection.open(target.uri(), target.options().withHandleName("third")).close());
        }
        assertEquals(before, FileTree.of(outside));
    }

    @Test
    void aCheckedExportServesItsFileOnEveryConnection() throws Exception {
        Path image = image("ok.img");
        try (NbdDiskTarget target = NbdDiskTarget.open("disk d0 target", new DiskLocation.LocalImage(image), SIZE,
                NbdOptions.DEFAULT, tools)) {
            for (int i = 0; i < 3; i++) {
                try (NbdConnection c = NbdConnection.open(target.uri(), target.options().withHandleName("c" + i))) {
                    assertEquals(SIZE, c.size());
                }
            }
        }
    }

    @Test
    void aNewTargetIsCreated0600AndOnlyWhereTheCheckAllowedIt() throws Exception {
        Path fresh = roots.resolve("sub/new.img");
        Files.createDirectories(fresh.getParent());
        try (NbdDiskTarget target = NbdDiskTarget.open("disk d0 target", new DiskLocation.LocalImage(fresh), SIZE,
                NbdOptions.DEFAULT, tools)) {
            assertTrue(target.createdFresh());
        }
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(fresh)));
        assertEquals(SIZE, Files.size(fresh));

        // the directory is swapped for a symlink out between the check and the creation
        Path later = roots.resolve("moved/new.img");
        Files.createDirectories(later.getParent());
        StoragePolicy.Checked checked = policy.checkPath("disk d1 target", later, Access.WRITE);
        FileTree before = FileTree.of(outside);
        Files.move(later.getParent(), roots.resolve("moved.orig"));
        Files.createSymbolicLink(later.getParent(), outside);
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> SparseImage.create("disk d1 target", checked, SIZE, policy));
        assertRefusal("disk d1 target", e, "a directory on the way changed since the check or is a symbolic link");
        assertEquals(before, FileTree.of(outside));
        assertFalse(Files.exists(outside.resolve("new.img")));

        // the local operator's commands create 0600 too
        Path cli = outside.resolve("cli.img");
        LocalExport.Tools unrestricted = LocalExport.Tools.fromConfig(ConfigFactory.load()).withSocketRoot(dir);
        try (NbdDiskTarget target = NbdDiskTarget.open("target", new DiskLocation.LocalImage(cli), SIZE,
                NbdOptions.DEFAULT, unrestricted)) {
            assertTrue(target.createdFresh());
        }
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(cli)));
    }

    private record Chain(String name, List<String> layout, String says) {
    }

    @Test
    void aQcow2WhoseChainLeavesTheRootsIsRefusedBeforeAnythingOpensIt() throws Exception {
        String qemuImg = TestPeers.require("qemu-img", "qemu-utils");
        QemuNbdServer.run(qemuImg, "create", "-q", "-f", "qcow2", outside.resolve("base.qcow2").toString(), "1M");
        QemuNbdServer.run(qemuImg, "create", "-q", "-f", "qcow2", "-b", outside.resolve("base.qcow2").toString(),
                "-F", "qcow2", roots.resolve("one.qcow2").toString());
        QemuNbdServer.run(qemuImg, "create", "-q", "-f", "qcow2", "-b", outside.resolve("base.qcow2").toString(),
                "-F", "qcow2", roots.resolve("mid.qcow2").toString());
        QemuNbdServer.run(qemuImg, "create", "-q", "-f", "qcow2", "-b", "mid.qcow2", "-F", "qcow2",
                roots.resolve("two.qcow2").toString());
        QemuNbdServer.run(qemuImg, "create", "-q", "-f", "qcow2", "-o",
                "data_file=" + outside.resolve("data.raw"), roots.resolve("data.qcow2").toString(), "1M");
        QemuNbdServer.run(qemuImg, "create", "-q", "-f", "qcow2", "-u", "-b",
                "json:{\"driver\":\"file\",\"filename\":\"/etc/hostname\"}", "-F", "raw",
                roots.resolve("json.qcow2").toString(), "1M");
        FileTree before = FileTree.of(outside);
        for (String[] c : new String[][] {
            {"one.qcow2", "the backing file '" + outside.resolve("base.qcow2") + "' of '" + roots.resolve("one.qcow2")
                + "' is outside the allowed storage roots"},
            {"two.qcow2", "the backing file '" + outside.resolve("base.qcow2") + "' of '" + roots.resolve("two.qcow2")
                + "' is outside the allowed storage roots"},
            {"data.qcow2", "the external data file '" + outside.resolve("data.raw") + "'"},
            {"json.qcow2", "is not a local file"}}) {
            InvalidInputException e = assertThrows(InvalidInputException.class,
                    () -> LocalExport.start("disk d0 source", roots.resolve(c[0]), false, tools).close(), c[0]);
            assertRefusal("disk d0 source", e, c[1]);
        }
        assertEquals(before, FileTree.of(outside));

        // a chain inside the root is served, and the server's open files (image and base) verify
        QemuNbdServer.run(qemuImg, "create", "-q", "-f", "qcow2", roots.resolve("base.qcow2").toString(), "1M");
        QemuNbdServer.run(qemuImg, "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2",
                roots.resolve("top.qcow2").toString());
        StoragePolicy.Checked checked = LocalExport.checkImage("disk d0 source", roots.resolve("top.qcow2"),
                Access.READ, tools);
        assertEquals(2, checked.openable().size(), "the image and its backing file");
        try (LocalExport export = LocalExport.startChecked("disk d0 source", checked, false, List.of(), tools);
             NbdConnection c = NbdConnection.open(export.uri(), export.guard(NbdOptions.DEFAULT))) {
            assertEquals(SIZE, c.size());
        }

        // the backing file swapped between the chain's check and qemu-nbd's open
        Files.move(roots.resolve("base.qcow2"), roots.resolve("base.qcow2.orig"));
        Files.createSymbolicLink(roots.resolve("base.qcow2"), outside.resolve("base.qcow2"));
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> LocalExport.startChecked("disk d0 source", checked, false, List.of(), tools).close());
        assertRefusal("disk d0 source", e, "it holds another file open");
        assertEquals(before, FileTree.of(outside));
    }

    @Test
    void aBlockDeviceIsExportedOnlyWhenAnAllowedGlobMatchesIt() throws Exception {
        String losetup = TestPeers.require("losetup", "mount");
        Path backing = dir.resolve("loop.img");
        Files.write(backing, new byte[SIZE]);
        String device = QemuNbdServer.run(losetup, "--find", "--show", backing.toString()).strip();
        try {
            InvalidInputException e = assertThrows(InvalidInputException.class,
                    () -> LocalExport.start("disk d0 target", Path.of(device), true, tools).close());
            assertRefusal("disk d0 target", e, "none allowed");
            StoragePolicy devices = StoragePolicy.builder().allowRoot(roots.toString()).allowDevices("/dev/loop[0-9]*")
                    .build();
            LocalExport.Tools allowed = tools.withStorage(devices);
            StoragePolicy.Checked checked = devices.checkPath("disk d0 target", Path.of(device), Access.WRITE);
            assertEquals(StoragePolicy.Checked.Kind.DEVICE, checked.kind());
            try (LocalExport export = LocalExport.start("disk d0 target", Path.of(device), true, allowed);
                 NbdConnection c = NbdConnection.open(export.uri(), export.guard(NbdOptions.DEFAULT))) {
                assertEquals(SIZE, c.size(), "the loop device is served");
            }
            // a glob that matches a file that is no block device does not make it one
            Path fake = roots.resolve("loop-fake");
            Files.write(fake, new byte[16]);
            StoragePolicy byName = StoragePolicy.builder().allowRoot(roots.toString()).allowDevices("/dev/*").build();
            InvalidInputException notDevice = assertThrows(InvalidInputException.class,
                    () -> byName.checkPath("f", Path.of("/dev/null"), Access.WRITE));
            assertTrue(notDevice.getMessage().contains("matches blockferry.storage.allowed-devices but is not a block"
                    + " device"), notDevice.getMessage());
        } finally {
            QemuNbdServer.run(losetup, "-d", device);
        }
    }

    @Test
    void exportServersGetOnlyTheMinimalEnvironment() throws Exception {
        List<String> nodeOnly = System.getenv().keySet().stream().filter(k -> !ChildEnvironment.KEYS.contains(k))
                .toList();
        assertFalse(nodeOnly.isEmpty(), "the test JVM has variables a child must not inherit");
        String qemuImg = TestPeers.require("qemu-img", "qemu-utils");
        QemuNbdServer.run(qemuImg, "create", "-q", "-f", "qcow2", roots.resolve("env.qcow2").toString(), "1M");
        LocalExport.Tools unrestricted = LocalExport.Tools.fromConfig(ConfigFactory.load()).withSocketRoot(dir);
        for (Path image : List.of(image("env.img"), roots.resolve("env.qcow2"))) {
            for (LocalExport.Tools t : List.of(tools, unrestricted)) {
                try (LocalExport export = LocalExport.start("source", image, false, t)) {
                    List<String> keys = environ(export.pid());
                    assertTrue(ChildEnvironment.KEYS.containsAll(keys), image + ": " + keys);
                    assertTrue(keys.contains("PATH") && keys.contains("LC_ALL"), image + ": " + keys);
                    assertTrue(keys.stream().noneMatch(nodeOnly::contains), image + ": " + keys);
                }
            }
        }
    }

    @Test
    void theChildEnvironmentKeepsOnlyWhatProgramsNeed() {
        java.util.Map<String, String> env = ChildEnvironment.of(java.util.Map.of("PATH", "/usr/bin",
                "BLOCKFERRY_API_TOKEN", "canary-token", "BLOCKFERRY_DB_PASSWORD", "canary-db", "VC_PASSWORD", "canary",
                "HOME", "/root", "TMPDIR", "/var/tmp", "LANG", "de_DE.UTF-8"));
        assertEquals(java.util.Map.of("PATH", "/usr/bin", "HOME", "/root", "TMPDIR", "/var/tmp", "LANG", "C",
                "LC_ALL", "C"), env);
        assertEquals("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                ChildEnvironment.of(java.util.Map.of()).get("PATH"));
    }

    private static List<String> environ(long pid) throws Exception {
        byte[] raw = Files.readAllBytes(Path.of("/proc", Long.toString(pid), "environ"));
        return Arrays.stream(new String(raw).split("\0")).filter(s -> !s.isEmpty())
                .map(s -> s.substring(0, s.indexOf('='))).toList();
    }

    private long nbdServers() {
        return ProcessHandle.current().children().count();
    }

    /** The refused export's server is gone (killed, not left running). */
    private void awaitServers(long expected) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (nbdServers() > expected && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertEquals(expected, nbdServers(), "the export's server was stopped");
    }
}
