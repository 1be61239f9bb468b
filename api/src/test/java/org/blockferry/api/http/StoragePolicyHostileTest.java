package org.blockferry.api.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.net.http.HttpResponse;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.blockferry.api.cli.CliRunner;
import org.blockferry.api.node.NbdkitAborts;
import org.blockferry.api.node.Node;
import org.blockferry.api.node.NodeFixture;
import org.blockferry.engine.actor.JobReply;
import org.blockferry.engine.job.JobSettings;
import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.job.JobState;
import org.blockferry.engine.plan.CopyMode;
import org.blockferry.engine.testing.FileTree;
import org.blockferry.nbd.testing.DiskChecksum;
import org.blockferry.nbd.testing.NbdkitServer;
import org.blockferry.nbd.testing.QemuNbdServer;
import org.blockferry.nbd.testing.TestPeers;
import org.blockferry.persistence.PersistenceSettings;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * An API client trying to make a serving node read or write what it must not, through the real
 * HTTP server of a node started as {@code blockferry serve} starts one: allowed root
 * {@code DIR/roots}, the node's data directory (database, API token, NBD keys) inside it. Each
 * refused submission gets 400 naming the field and is not created; nothing outside the allowed
 * root changes (a snapshot of names, sizes, modes, mtimes and contents), the node's own files are
 * untouched, and the attacker's NBD export a forbidden file would have been copied to stays all
 * zeros. Jobs that get past submission (a path swapped while the job waits, a job a local
 * operator started) are refused when their disks are opened. The local operator's CLI is not
 * restricted.
 */
class StoragePolicyHostileTest {
    private static final String TOKEN = "hostile-test-token-0123456789";
    private static final int SIZE = 1 << 20;

    private Path dir;
    private Path roots;
    private Path outside;
    private Path node;
    private Path keys;
    private PersistenceSettings database;
    private Map<String, Object> overrides;

    @BeforeEach
    void layOut() throws Exception {
        dir = TestPeers.scratchDirectory("hostile-");
        roots = Files.createDirectories(dir.resolve("roots"));
        outside = Files.createDirectories(dir.resolve("outside"));
        node = Files.createDirectories(roots.resolve("node"));
        keys = Files.createDirectories(node.resolve("keys"));
        byte[] secret = new byte[SIZE];
        new Random(11).nextBytes(secret);
        Files.write(outside.resolve("secret.img"), secret);
        Files.writeString(node.resolve("api-token"), TOKEN + "\n");
        Files.writeString(keys.resolve("client.psk"), "alice:00112233445566778899aabbccddeeff\n");
        Files.createSymbolicLink(roots.resolve("link-file"), outside.resolve("secret.img"));
        Files.createSymbolicLink(roots.resolve("link-dir"), outside);
        QemuNbdServer.run("mkfifo", roots.resolve("fifo").toString());
        QemuNbdServer.run("mknod", roots.resolve("zero").toString(), "c", "1", "5");
        database = PersistenceSettings.h2(node.resolve("blockferry"), 4);
        overrides = Map.of("blockferry.data-dir", node.toString(),
                "blockferry.storage.allowed-roots", List.of(roots.toString()),
                "blockferry.nbd.key-dir", keys.toString(),
                "blockferry.http.token-file", node.resolve("api-token").toString());
    }

    private static String job(String id, String source, String target) {
        ObjectNode disk = ApiFixture.JSON.createObjectNode().put("id", "d0").put("source", source).put("target", target);
        ObjectNode spec = ApiFixture.JSON.createObjectNode().put("job_id", id).put("vm", "vm-" + id).put("mode", "full");
        spec.putArray("disks").add(disk);
        return spec.toString();
    }

    /** A submission and the one outcome it must get: 400 naming {@code field}, saying {@code says}. */
    private record Hostile(String name, String spec, String field, String says) {
    }

    @Test
    void everyHostileSubmissionIsRefusedNamingTheFieldAndChangesNothing() throws Exception {
        try (NbdkitServer attacker = NbdkitServer.start(dir, "memory", "size=" + SIZE);
             NbdkitServer data = NbdkitServer.start(dir, "pattern", "size=" + SIZE);
             ServerSocketChannel socket = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
             ApiFixture api = ApiFixture.start(dir, database, TOKEN, overrides)) {
            socket.bind(UnixDomainSocketAddress.of(roots.resolve("sock")));
            String sink = attacker.uri();
            String src = data.uri();
            String db = node.resolve("blockferry.mv.db").toString();
            String token = node.resolve("api-token").toString();
            assertTrue(Files.exists(Path.of(db)), "the node's database is in its data directory");
            List<Hostile> cases = new ArrayList<>();
            String outsideRoots = "is outside the allowed storage roots (" + roots + "); see"
                    + " blockferry.storage.allowed-roots";
            // sources: what the node would read and send to the attacker's export
            cases.add(new Hostile("/etc/shadow as source", job("s1", "/etc/shadow", sink), "disks[0].source",
                    outsideRoots));
            cases.add(new Hostile("traversal", job("s2", roots + "/../outside/secret.img", sink), "disks[0].source",
                    outsideRoots));
            cases.add(new Hostile("absolute path outside", job("s3", outside + "/secret.img", sink),
                    "disks[0].source", outsideRoots));
            cases.add(new Hostile("symlinked file out", job("s4", roots + "/link-file", sink), "disks[0].source",
                    "leads through a symbolic link to a path outside the allowed storage roots"));
            cases.add(new Hostile("symlinked directory out", job("s5", roots + "/link-dir/secret.img", sink),
                    "disks[0].source", "leads through a symbolic link"));
            cases.add(new Hostile("FIFO", job("s6", roots + "/fifo", sink), "disks[0].source", "is a FIFO"));
            cases.add(new Hostile("socket", job("s7", roots + "/sock", sink), "disks[0].source", "is a socket"));
            cases.add(new Hostile("/dev/zero", job("s8", "/dev/zero", sink), "disks[0].source", outsideRoots));
            cases.add(new Hostile("character device in the root", job("s9", roots + "/zero", sink),
                    "disks[0].source", "is a character device"));
            cases.add(new Hostile("block device not allowed", job("s10", "/dev/loop0", sink), "disks[0].source",
                    "block devices: blockferry.storage.allowed-devices, none allowed"));
            cases.add(new Hostile("the data dir", job("s11", node.toString(), sink), "disks[0].source",
                    "is a directory"));
            cases.add(new Hostile("the database as source", job("s12", db, sink), "disks[0].source",
                    "is the node's database: no job may read or write it"));
            cases.add(new Hostile("the token as source", job("s13", token, sink), "disks[0].source",
                    "is the node's API token"));
            cases.add(new Hostile("a key as source", job("s14", keys.resolve("client.psk").toString(), sink),
                    "disks[0].source", "is in the node's NBD key directory"));
            // targets: what the node would overwrite with the data source's bytes
            cases.add(new Hostile("a cron file", job("t1", src, "/etc/cron.d/blockferry-hostile"), "disks[0].target",
                    outsideRoots));
            cases.add(new Hostile("traversal to a new file", job("t2", src, roots + "/../outside/new.img"),
                    "disks[0].target", outsideRoots));
            cases.add(new Hostile("symlinked file out", job("t3", src, roots + "/link-file"), "disks[0].target",
                    "leads through a symbolic link"));
            cases.add(new Hostile("new file in a symlinked directory", job("t4", src, roots + "/link-dir/new.img"),
                    "disks[0].target", "leads through a symbolic link"));
            cases.add(new Hostile("the database as target", job("t5", src, db), "disks[0].target",
                    "is the node's database"));
            cases.add(new Hostile("the token as target", job("t6", src, token), "disks[0].target",
                    "is the node's API token"));
            cases.add(new Hostile("a new file in the data dir", job("t7", src, node + "/db-password"),
                    "disks[0].target", "the node's database password"));
            cases.add(new Hostile("/dev/null", job("t8", src, "/dev/null"), "disks[0].target", outsideRoots));
            cases.add(new Hostile("FIFO as target", job("t9", src, roots + "/fifo"), "disks[0].target", "is a FIFO"));
            // NBD URIs
            cases.add(new Hostile("PSK file outside the key dir", job("u1", "nbds://127.0.0.1:9/x?tls-psk-file="
                    + outside.resolve("secret.img"), roots + "/u1.img"), "disks[0].source",
                    "is outside this node's NBD key directory (" + keys + "); see blockferry.nbd.key-dir"));
            cases.add(new Hostile("certificates outside the key dir", job("u2", "nbds://127.0.0.1:9/x"
                    + "?tls-certificates=/etc/ssl/private", roots + "/u2.img"), "disks[0].source",
                    "is outside this node's NBD key directory"));
            cases.add(new Hostile("an unknown URI option", job("u3", src + "&tls-priority=NORMAL", roots + "/u3.img"),
                    "disks[0].source", "the NBD URI option 'tls-priority' is not allowed on this node"));
            cases.add(new Hostile("unverified TLS", job("u4", "nbds://127.0.0.1:9/x?tls-verify-peer=false",
                    roots + "/u4.img"), "disks[0].source", "blockferry.nbd.allow-unverified-tls = false"));
            cases.add(new Hostile("a socket in the data dir", job("u5", src, "nbd+unix:///?socket=" + node
                    + "/x.sock"), "disks[0].target", "is in this node's data directory"));
            cases.add(new Hostile("datastore_map outside", vmware("v1", outside), "source.datastore_map[[ds] vm/]",
                    outsideRoots));

            FileTree before = FileTree.of(outside);
            FileTree keysBefore = FileTree.of(keys);
            String tokenBefore = Files.readString(Path.of(token));
            List<String> failures = new ArrayList<>();
            for (Hostile c : cases) {
                HttpResponse<String> r = api.postJson("/api/v1/jobs", c.spec());
                JsonNode error = r.statusCode() == 400 ? ApiFixture.json(r).path("error") : null;
                if (error == null || !c.field().equals(error.path("field").asText())
                        || !error.path("message").asText().contains(c.says())) {
                    failures.add(c.name() + ": " + r.statusCode() + " " + r.body());
                } else if (r.body().contains("root:") || r.body().contains(TOKEN)) {
                    failures.add(c.name() + ": the answer shows a file's contents: " + r.body());
                }
                String id = ApiFixture.JSON.readTree(c.spec()).path("job_id").asText();
                if (api.get("/api/v1/jobs/" + id).statusCode() != 404) {
                    failures.add(c.name() + ": the refused job exists");
                }
            }
            assertEquals(List.of(), failures);
            assertEquals(before, FileTree.of(outside), "nothing outside the allowed root changed");
            assertEquals(keysBefore, FileTree.of(keys), "the key directory is untouched");
            assertEquals(tokenBefore, Files.readString(Path.of(token)), "the token file is untouched");
            assertFalse(Files.exists(Path.of("/etc/cron.d/blockferry-hostile")));
            assertEquals(DiskChecksum.ofZeros(SIZE), DiskChecksum.ofUri(sink), "the attacker's export got nothing");
            assertEquals(200, api.get("/api/v1/jobs").statusCode(), "the node and its database still work");
        }
    }

    private String vmware(String id, Path mapped) throws Exception {
        ObjectNode source = ApiFixture.JSON.createObjectNode().put("kind", "vmware").put("vcenter", "vc1")
                .put("vm", "DC0/vm/x");
        source.putObject("datastore_map").put("[ds] vm/", mapped.toString());
        ObjectNode spec = (ObjectNode) ApiFixture.JSON.readTree(job(id, "[ds] vm/disk.vmdk", roots + "/" + id
                + ".img"));
        spec.set("source", source);
        return spec.toString();
    }

    @Test
    void aTargetSwappedForASymlinkWhileItsJobWaitsIsRefusedWhenTheJobOpensIt() throws Exception {
        Path target = roots.resolve("queued.img");
        try (NbdkitServer slow = NbdkitServer.start(dir, "--filter=delay", "sparse-random", "size=64M",
                "percent=100", "seed=3", "rdelay=500ms");
             NbdkitServer fast = NbdkitServer.start(dir, "pattern", "size=64M");
             ApiFixture api = ApiFixture.start(dir, database, TOKEN, overrides)) {
            assertEquals(202, api.postJson("/api/v1/jobs", job("first", slow.uri(), target.toString())).statusCode());
            awaitCopying(api, "first"); // its connections are open: what it writes is the checked file
            HttpResponse<String> accepted = api.postJson("/api/v1/jobs", job("second", fast.uri(), target.toString()));
            assertEquals(202, accepted.statusCode(), "the check at submission passes: " + accepted.body());
            awaitWaiting(api, "second");
            // while "second" waits for the target's lease, the path becomes a symlink to a file outside
            Files.move(target, roots.resolve("queued.img.first"));
            Files.createSymbolicLink(target, outside.resolve("secret.img"));
            FileTree before = FileTree.of(outside);

            JsonNode first = api.awaitFinal("first", Duration.ofMinutes(2));
            assertEquals("completed", first.path("status").asText(), first.toString());
            JsonNode second = api.awaitFinal("second", Duration.ofMinutes(2));
            assertEquals("failed", second.path("status").asText(), second.toString());
            String error = second.path("disks").get(0).path("error").asText();
            assertTrue(error.contains("disk d0 target: '" + target + "' leads through a symbolic link to a path"
                    + " outside the allowed storage roots"), second.toString());
            assertEquals(before, FileTree.of(outside), "the outside file was not written");
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(
                    roots.resolve("queued.img.first"))), "a target the node creates is 0600");
        }
    }

    @Test
    void aJobALocalOperatorStartedIsHeldToThePolicyWhenServeResumesIt() throws Exception {
        Path target = outside.resolve("operator.img"); // fine for the operator, outside the node's roots
        String id = "operator-job";
        try (NbdkitServer slow = NbdkitServer.start(dir, "--filter=delay", "sparse-random", "size=64M",
                "percent=100", "seed=5", "rdelay=1000ms");
             NbdkitAborts aborts = new NbdkitAborts(slow)) {
            com.typesafe.config.Config config = NodeFixture.config(dir, overrides);
            // the node stops with reads sleeping in the delay filter: nbdkit 1.32 may abort then
            aborts.clientKilled(() -> {
                try (Node replicate = Node.start(config, database, JobSettings.fromConfig(config),
                        Node.Access.OPERATOR)) {
                    JobSpec spec = new JobSpec(id, "vm", null, List.of(new JobSpec.Disk("d0", slow.uri(),
                            target.toString())), CopyMode.FULL, null).validated();
                    JobReply reply = replicate.jobs().submit(spec).toCompletableFuture().get(30, TimeUnit.SECONDS);
                    assertTrue(reply instanceof JobReply.Accepted, "the operator may write anywhere: " + reply);
                    awaitCopying(replicate, id, target);
                } // the process "dies" with the job unfinished
            });
            FileTree before = FileTree.of(outside);
            try (ApiFixture api = ApiFixture.start(dir, database, TOKEN, overrides)) {
                JsonNode doc = api.awaitFinal(id, Duration.ofMinutes(2));
                assertEquals("failed", doc.path("status").asText(), doc.toString());
                assertTrue(doc.path("disks").get(0).path("error").asText().contains("disk d0 target: '" + target
                        + "' is outside the allowed storage roots (" + roots + ")"), doc.toString());
            }
            assertEquals(before, FileTree.of(outside), "serve wrote nothing outside its roots");
            aborts.assertNoneUnexplained();
        }
    }

    @Test
    void theLocalOperatorsCliIsNotRestricted() throws Exception {
        Path copy = outside.resolve("cli-copy.img");
        CliRunner.Run run = CliRunner.run("copy", outside.resolve("secret.img").toString(), copy.toString());
        assertEquals(0, run.code(), run.err());
        assertEquals(DiskChecksum.ofFile(outside.resolve("secret.img")), DiskChecksum.ofFile(copy));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(copy)));
    }

    private static void awaitCopying(Node node, String id, Path target) throws Exception {
        long deadline = System.nanoTime() + Duration.ofMinutes(1).toNanos();
        while (System.nanoTime() < deadline) {
            JobState s = node.jobs().get(id).toCompletableFuture().get(10, TimeUnit.SECONDS);
            if (s.status() == JobState.JobStatus.RUNNING && Files.exists(target) && s.bytesTransferred() > 0) {
                return;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("job " + id + " did not start copying");
    }

    private static void awaitCopying(ApiFixture api, String id) throws Exception {
        // under the load of a full parallel test run the first chunk (500 ms a read) can take long
        long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
        while (System.nanoTime() < deadline) {
            if (ApiFixture.json(api.get("/api/v1/jobs/" + id)).path("bytes_transferred").asLong() > 0) {
                return;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("job " + id + " did not start copying");
    }

    private static void awaitWaiting(ApiFixture api, String id) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (System.nanoTime() < deadline) {
            JsonNode doc = ApiFixture.json(api.get("/api/v1/jobs/" + id));
            if (doc.path("waiting_for").isTextual()) {
                return;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("job " + id + " never waited");
    }
}
