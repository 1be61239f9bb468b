package org.blockferry.engine.endpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.blockferry.engine.endpoint.StoragePolicy.Access;
import org.blockferry.engine.endpoint.StoragePolicy.Checked.Kind;
import org.blockferry.engine.testing.FileTree;
import org.blockferry.nbd.testing.QemuNbdServer;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The storage policy's rules, one case per hostile input, on real files: each refused case names
 * its field and says what is allowed, and the file system outside the allowed root is unchanged.
 */
class StoragePolicyTest {
    private Path dir;
    private Path roots;
    private Path outside;
    private Path node;
    private Path keys;
    private StoragePolicy policy;
    private ServerSocketChannel socket;

    @BeforeEach
    void layOut() throws Exception {
        dir = TestPeers.scratchDirectory("policy-");
        roots = Files.createDirectories(dir.resolve("roots"));
        outside = Files.createDirectories(dir.resolve("outside"));
        Files.write(outside.resolve("secret.img"), "not for jobs".getBytes());
        Files.createDirectories(outside.resolve("d"));
        node = Files.createDirectories(roots.resolve("node")); // a data dir under the root: still protected
        keys = Files.createDirectories(node.resolve("keys"));
        Files.writeString(keys.resolve("client.psk"), "alice:0123\n");
        Files.writeString(node.resolve("blockferry.mv.db"), "db");
        Files.writeString(node.resolve("api-token"), "token");
        Files.writeString(dir.resolve("token-file"), "token");
        Files.write(roots.resolve("disk.img"), new byte[4096]);
        Files.createDirectories(roots.resolve("sub"));
        Files.createSymbolicLink(roots.resolve("link-file"), outside.resolve("secret.img"));
        Files.createSymbolicLink(roots.resolve("link-dir"), outside);
        Files.createSymbolicLink(roots.resolve("dangling"), outside.resolve("nothing.img"));
        Files.createSymbolicLink(roots.resolve("to-null"), Path.of("/dev/null"));
        Files.createSymbolicLink(keys.resolve("out.psk"), outside.resolve("secret.img"));
        QemuNbdServer.run("mkfifo", roots.resolve("fifo").toString());
        QemuNbdServer.run("mknod", roots.resolve("zero").toString(), "c", "1", "5");
        socket = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        socket.bind(UnixDomainSocketAddress.of(roots.resolve("sock")));
        policy = StoragePolicy.builder().allowRoot(roots.toString()).dataDir(node).keyDir(keys)
                .exportRoot(dir.resolve("exports"))
                .protect(node.resolve("blockferry"), StoragePolicy.Protected.Scope.NAME_PREFIX, "the node's database")
                .protect(node.resolve("api-token"), StoragePolicy.Protected.Scope.FILE, "the node's API token")
                .protect(roots.resolve("sub").resolve("token-link"), StoragePolicy.Protected.Scope.FILE, "unused")
                .protect(dir.resolve("token-file"), StoragePolicy.Protected.Scope.FILE, "the node's API token")
                .build();
    }

    @AfterEach
    void close() throws IOException {
        socket.close();
    }

    private record Refused(String name, String path, Access access, String says) {
    }

    @Test
    void everyHostilePathIsRefusedNamingTheFieldAndNothingOutsideChanges() {
        FileTree before = FileTree.of(outside);
        List<Refused> cases = List.of(
                new Refused("traversal", roots + "/../outside/secret.img", Access.READ, "is outside the allowed storage"
                        + " roots (" + roots + "); see blockferry.storage.allowed-roots"),
                new Refused("traversal to a new target", roots + "/sub/../../outside/new.img", Access.WRITE,
                        "is outside the allowed storage roots"),
                new Refused("absolute outside", outside.resolve("secret.img").toString(), Access.READ,
                        "is outside the allowed storage roots"),
                new Refused("/etc/shadow", "/etc/shadow", Access.READ, "is outside the allowed storage roots"),
                new Refused("a cron file", "/etc/cron.d/blockferry-test", Access.WRITE, "is outside"),
                new Refused("symlinked file pointing out", roots.resolve("link-file").toString(), Access.READ,
                        "leads through a symbolic link to a path outside the allowed storage roots"),
                new Refused("symlinked file pointing out, as target", roots.resolve("link-file").toString(),
                        Access.WRITE, "leads through a symbolic link"),
                new Refused("symlinked directory pointing out", roots.resolve("link-dir/secret.img").toString(),
                        Access.READ, "leads through a symbolic link"),
                new Refused("new target in a symlinked directory", roots.resolve("link-dir/new.img").toString(),
                        Access.WRITE, "leads through a symbolic link"),
                new Refused("dangling symlink", roots.resolve("dangling").toString(), Access.WRITE,
                        "is a symbolic link that leads nowhere"),
                new Refused("FIFO", roots.resolve("fifo").toString(), Access.READ, "is a FIFO, not a disk image"),
                new Refused("socket", roots.resolve("sock").toString(), Access.WRITE, "is a socket, not a disk image"),
                new Refused("character device in the root", roots.resolve("zero").toString(), Access.READ,
                        "is a character device"),
                new Refused("/dev/null", "/dev/null", Access.WRITE, "block devices: blockferry.storage.allowed-devices,"
                        + " none allowed"),
                new Refused("/dev/zero", "/dev/zero", Access.READ, "is outside the allowed storage roots"),
                new Refused("symlink to /dev/null", roots.resolve("to-null").toString(), Access.WRITE,
                        "leads through a symbolic link"),
                new Refused("a block device not allowed", "/dev/loop0", Access.WRITE, "none allowed"),
                new Refused("a directory", roots.resolve("sub").toString(), Access.READ, "is a directory"),
                new Refused("the data dir", node.toString(), Access.WRITE, "is a directory"),
                new Refused("the database as source", node.resolve("blockferry.mv.db").toString(), Access.READ,
                        "is the node's database: no job may read or write it"),
                new Refused("the database as target", node.resolve("blockferry.mv.db").toString(), Access.WRITE,
                        "is the node's database"),
                new Refused("a database file still to come", node.resolve("blockferry.trace.db").toString(),
                        Access.WRITE, "is the node's database"),
                new Refused("the token as source", node.resolve("api-token").toString(), Access.READ,
                        "is the node's API token"),
                new Refused("the token as target", node.resolve("api-token").toString(), Access.WRITE,
                        "is the node's API token"),
                new Refused("a new file in the data dir", node.resolve("db-password").toString(), Access.WRITE,
                        "is a file of the node's data directory"),
                new Refused("a key file", keys.resolve("client.psk").toString(), Access.READ,
                        "is in the node's NBD key directory"));
        List<String> failures = new ArrayList<>();
        for (Refused c : cases) {
            String field = "disks[0]." + (c.access() == Access.READ ? "source" : "target");
            try {
                policy.checkLocation(field, DiskLocation.parse(field, c.path()), c.access());
                failures.add(c.name() + ": allowed");
            } catch (InvalidInputException e) {
                if (!e.field().equals(field) || !e.getMessage().contains(c.says())) {
                    failures.add(c.name() + ": " + e.getMessage());
                }
                if (e.getMessage().contains("not for jobs")) {
                    failures.add(c.name() + ": the message shows a file's contents");
                }
            }
        }
        assertEquals(List.of(), failures);
        assertEquals(before, FileTree.of(outside));
        assertFalse(Files.exists(Path.of("/etc/cron.d/blockferry-test")));
    }

    @Test
    void filesUnderTheRootAreAllowedWithTheirRealPathAndIdentity() throws IOException {
        Files.createSymbolicLink(roots.resolve("sub/inside-link.img"), roots.resolve("disk.img"));
        StoragePolicy.Checked file = policy.checkPath("f", roots.resolve("sub/inside-link.img"), Access.READ);
        assertEquals(Kind.FILE, file.kind());
        assertEquals(roots.resolve("disk.img").toRealPath(), file.path(), "programs get the real path");
        assertEquals(roots.toRealPath(), file.root());
        assertEquals(Files.readAttributes(roots.resolve("disk.img"),
                java.nio.file.attribute.BasicFileAttributes.class).fileKey(), file.fileKey());
        StoragePolicy.Checked target = policy.checkPath("t", roots.resolve("sub/new.img"), Access.WRITE);
        assertEquals(Kind.ABSENT, target.kind());
        assertFalse(target.verifiable());
        // a source may appear before its job runs: submission lets it be missing, opening does not
        Path missing = roots.resolve("missing.img");
        policy.checkLocation("disks[0].source", new DiskLocation.LocalImage(missing), Access.READ);
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> policy.checkPath("disk d0 source", missing, Access.READ));
        assertEquals("disk d0 source: '" + missing + "' does not exist", e.getMessage());
    }

    @Test
    void aHardLinkOfAProtectedFileIsProtectedToo() throws IOException {
        Files.createLink(roots.resolve("sub/token-copy"), dir.resolve("token-file"));
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> policy.checkPath("disks[0].source", roots.resolve("sub/token-copy"), Access.READ));
        assertTrue(e.getMessage().contains("is the node's API token"), e.getMessage());
    }

    @Test
    void theUnrestrictedPolicyChecksNothing() {
        for (String path : List.of("/etc/shadow", roots.resolve("link-file").toString(), "/dev/null",
                node.resolve("api-token").toString())) {
            StoragePolicy.UNRESTRICTED.checkLocation("source", DiskLocation.parse("source", path), Access.WRITE);
            assertFalse(StoragePolicy.UNRESTRICTED.checkPath("source", Path.of(path), Access.READ).verifiable());
        }
        StoragePolicy.UNRESTRICTED.checkUri("source", "nbds://h/x?tls-psk-file=/etc/shadow&tls-verify-peer=false"
                + "&anything=else");
    }

    @Test
    void mappedImageDirectoriesMustLieUnderARoot() throws IOException {
        Path mapped = Files.createDirectories(roots.resolve("datastore"));
        policy.checkDirectory("source.datastore_map[[ds] vm/]", mapped);
        for (Path bad : List.of(outside, roots.resolve("link-dir"), keys)) {
            InvalidInputException e = assertThrows(InvalidInputException.class,
                    () -> policy.checkDirectory("source.datastore_map[[ds] vm/]", bad));
            assertEquals("source.datastore_map[[ds] vm/]", e.field());
        }
    }

    private record Uri(String name, String uri, String says) {
    }

    @Test
    void nbdUriOptionsAreAllowListedAndTheirFilesConfined() {
        String psk = keys.resolve("client.psk").toString();
        List<Uri> refused = List.of(
                new Uri("unknown option", "nbd://h:10809/x?tls-priority=NORMAL", "the NBD URI option 'tls-priority' is"
                        + " not allowed on this node (allowed: socket, tls-certificates, tls-psk-file, tls-verify-peer,"
                        + " tls-hostname)"),
                new Uri("an option named with escapes", "nbd://h/x?%66oo=1", "the NBD URI option 'foo' is not allowed"),
                new Uri("PSK file outside the key dir", "nbds://h/x?tls-psk-file=/etc/shadow", "tls-psk-file=/etc/shadow"
                        + " is outside this node's NBD key directory (" + keys + "); see blockferry.nbd.key-dir"),
                new Uri("PSK file spelled with escapes", "nbds://h/x?tls%2Dpsk%2Dfile=%2Fetc%2Fshadow",
                        "is outside this node's NBD key directory"),
                new Uri("PSK file by traversal", "nbds://h/x?tls-psk-file=" + keys + "/../../../outside/secret.img",
                        "is outside this node's NBD key directory"),
                new Uri("PSK file through a symlink out", "nbds://h/x?tls-psk-file=" + keys.resolve("out.psk"),
                        "is outside this node's NBD key directory"),
                new Uri("relative PSK file", "nbds://h/x?tls-psk-file=client.psk", "must be an absolute path"),
                new Uri("certificates outside", "nbds://h/x?tls-certificates=" + outside,
                        "tls-certificates=" + outside + " is outside this node's NBD key directory"),
                new Uri("unverified TLS", "nbds://h/x?tls-verify-peer=false", "turns off the check of the NBD server's"
                        + " certificate, which this node refuses (blockferry.nbd.allow-unverified-tls = false)"),
                new Uri("unverified TLS, spelled 0", "nbds://h/x?tls-verify-peer=0", "turns off the check"),
                new Uri("socket in the data dir", "nbd+unix:///?socket=" + node.resolve("x.sock"),
                        "is in this node's data directory"),
                new Uri("socket of a private export", "nbd+unix:///?socket=" + dir.resolve("exports/bf-123/nbd.sock"),
                        "is a private export socket"),
                new Uri("a second socket", "nbd+unix:///?socket=/run/a.sock&socket=" + node.resolve("x.sock"),
                        "the NBD URI option 'socket' is given twice"),
                new Uri("';' separators", "nbd+unix:///?socket=/run/a.sock;socket=" + node.resolve("x.sock"),
                        "separate options with '&'"),
                new Uri("a NUL", "nbds://h/x?tls-psk-file=" + psk + "%00", "contains a NUL character"));
        List<String> failures = new ArrayList<>();
        for (Uri c : refused) {
            try {
                policy.checkLocation("disks[0].source", DiskLocation.parse("disks[0].source", c.uri()), Access.READ);
                failures.add(c.name() + ": allowed");
            } catch (InvalidInputException e) {
                if (!e.field().equals("disks[0].source") || !e.getMessage().contains(c.says())) {
                    failures.add(c.name() + ": " + e.getMessage());
                }
            }
        }
        assertEquals(List.of(), failures);
        for (String ok : List.of("nbd://h:10809/x", "nbds://alice@h/x?tls-psk-file=" + psk,
                "nbds://h/x?tls-certificates=" + keys + "&tls-hostname=h.example&tls-verify-peer=true",
                "nbd+unix:///x?socket=" + outside.resolve("nbd.sock"), "nbd+unix:///x?socket=/run/a+b.sock")) {
            policy.checkLocation("disks[0].source", DiskLocation.parse("disks[0].source", ok), Access.READ);
        }
        StoragePolicy lax = StoragePolicy.builder().allowRoot(roots.toString()).keyDir(keys).allowUnverifiedTls(true)
                .build();
        lax.checkUri("disks[0].source", "nbds://h/x?tls-verify-peer=false");
    }

    @Test
    void settingsAreCheckedNamingTheirKeys() {
        assertEquals("blockferry.storage.allowed-roots", assertThrows(InvalidInputException.class,
                () -> StoragePolicy.builder().allowRoot("relative/dir")).field());
        assertEquals("blockferry.storage.allowed-devices", assertThrows(InvalidInputException.class,
                () -> StoragePolicy.builder().allowDevices("/home/*")).field());
        StoragePolicy fromEnv = StoragePolicy.configured(com.typesafe.config.ConfigFactory.parseMap(Map.of(
                "blockferry.storage.allowed-roots", "/srv/a, /srv/b",
                "blockferry.storage.allowed-devices", "/dev/disk/by-id/virtio-*",
                "blockferry.data-dir", "/var/lib/blockferry", "blockferry.nbd.key-dir", "/var/lib/blockferry/keys",
                "blockferry.nbd.allow-unverified-tls", false))).build();
        assertEquals(List.of(Path.of("/srv/a"), Path.of("/srv/b")), fromEnv.roots());
        assertEquals(List.of("/dev/disk/by-id/virtio-*"), fromEnv.deviceGlobs());
    }
}
