package org.blockferry.api.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.persistence.jdbc.query.javadsl.JdbcReadJournal;
import org.apache.pekko.persistence.query.EventEnvelope;
import org.apache.pekko.persistence.query.PersistenceQuery;
import org.apache.pekko.stream.javadsl.Sink;
import org.blockferry.api.http.JobDocuments;
import org.blockferry.engine.actor.JobActor;
import org.blockferry.engine.actor.JobReply;
import org.blockferry.engine.job.JobDocument;
import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.plan.CopyMode;
import org.blockferry.engine.source.ChangeToken;
import org.blockferry.engine.source.vmware.testing.Vcsim;
import org.blockferry.engine.source.vmware.vim.ManagedObject;
import org.blockferry.engine.source.vmware.vim.VimClient;
import org.blockferry.engine.source.vmware.vim.VirtualDiskInfo;
import org.blockferry.nbd.testing.DiskChecksum;
import org.blockferry.nbd.testing.NbdkitServer;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * vmware source kind through the job path on H2, against vcsim with its CBT layer over https,
 * configured on the node as vCenter {@code vc1}, in datastore-mapped mode: the VM's two VMDKs
 * are local raw images the test writes as the guest would, recording each write with the
 * simulator's CBT as well.
 */
class VmwareSyncJobTest {
    static final long MIB = 1L << 20;
    static final String USER = "bf";
    static final String PASSWORD = "s3cret";
    static final String DS_PREFIX = "[LocalDS_0] " + Vcsim.VM + "/";
    /** The name the node knows the simulator by. */
    static final String VC = "vc1";

    /**
     * The node configuration of vCenter {@link #VC}: the simulator, its certificate pinned, the
     * password in {@code dir/vc-password} (written now: the node checks it is there when it starts).
     */
    static Map<String, Object> vcenter(Vcsim vcsim, Path dir) throws IOException {
        Files.createDirectories(dir);
        return vcsim.nodeConfig(VC, USER, Files.writeString(dir.resolve("vc-password"), PASSWORD + "\n"));
    }

    /** {@link #vcenter} and {@code more}. */
    static Map<String, Object> vcenter(Vcsim vcsim, Path dir, Map<String, Object> more) throws IOException {
        Map<String, Object> m = new java.util.HashMap<>(vcenter(vcsim, dir));
        m.putAll(more);
        return m;
    }

    /** One simulated VM: its disks' keys and images, and the targets. */
    record Vm(Vcsim vcsim, Path dir, Path passwordFile, List<Integer> keys, List<Path> images,
                      List<Path> targets) {

        JobSpec job(String jobId, CopyMode mode) {
            return job(jobId, mode, VC, Vcsim.VM_PATH);
        }

        JobSpec job(String jobId, CopyMode mode, String vcenter, String vmPath) {
            return job(jobId, mode, vcenter, vmPath, Map.of(DS_PREFIX, dir.resolve("ds") + "/"));
        }

        /** Without a datastore map: the disks are read through nbdkit's vddk plugin. */
        JobSpec jobViaVddk(String jobId, CopyMode mode) {
            return job(jobId, mode, VC, Vcsim.VM_PATH, null);
        }

        private JobSpec job(String jobId, CopyMode mode, String vcenter, String vmPath, Map<String, String> map) {
            JobSpec.Source source = JobSpec.Source.vmware(vcenter, vmPath, map);
            return new JobSpec(jobId, Vcsim.VM, source, List.of(
                    new JobSpec.Disk("d1", DS_PREFIX + "disk1.vmdk", targets.get(0).toString()),
                    new JobSpec.Disk("d2", String.valueOf(keys.get(1)), targets.get(1).toString())), mode, null)
                    .validated();
        }

        /** A guest write: random bytes into the image, and the same range recorded by CBT. */
        void write(int disk, long offset, long length, long seed) throws IOException {
            writeImage(images.get(disk), offset, length, seed);
            vcsim.write(Vcsim.VM, keys.get(disk), offset, length);
        }
    }

    static void writeImage(Path image, long offset, long length, long seed) throws IOException {
        byte[] data = new byte[(int) length];
        new Random(seed).nextBytes(data);
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.seek(offset);
            f.write(data);
        }
    }

    static Vm vm(Vcsim vcsim, Path dir) throws IOException {
        Path ds = Files.createDirectories(dir.resolve("ds"));
        Path password = dir.resolve("vc-password");
        Files.writeString(password, PASSWORD + "\n");
        List<Path> images = List.of(ds.resolve("disk1.vmdk"), ds.resolve("disk2.vmdk"));
        long[][] data = {{0, 2 * MIB, 9 * MIB, MIB, 20 * MIB, 3 * MIB}, {4 * MIB, 4 * MIB, 30 * MIB, 2 * MIB}};
        for (int i = 0; i < 2; i++) {
            try (RandomAccessFile f = new RandomAccessFile(images.get(i).toFile(), "rw")) {
                f.setLength(32 * MIB); // sparse: the gaps are holes
            }
            for (int j = 0; j < data[i].length; j += 2) {
                writeImage(images.get(i), data[i][j], data[i][j + 1], 100L * i + j);
            }
        }
        List<Integer> keys;
        try (VimClient vim = vcsim.connect(USER, PASSWORD)) {
            ManagedObject m = vim.findByInventoryPath(Vcsim.VM_PATH).orElseThrow();
            keys = vim.virtualDisks(m).stream().map(VirtualDiskInfo::key).toList();
        }
        for (int i = 0; i < 2; i++) {
            vcsim.allocateFromImage(Vcsim.VM, keys.get(i), images.get(i));
        }
        return new Vm(vcsim, dir, password, keys, images, List.of(dir.resolve("t1.img"), dir.resolve("t2.img")));
    }

    static JobDocument sync(Node node, JobSpec spec) throws Exception {
        JobReply reply = node.jobs().submit(spec).toCompletableFuture().get(60, TimeUnit.SECONDS);
        assertInstanceOf(JobReply.Accepted.class, reply, reply.toString());
        return NodeFixture.awaitReadSide(node, spec.jobId(), Duration.ofMinutes(3));
    }

    static void assertTargetsEqualImages(Vm vm) {
        for (int i = 0; i < 2; i++) {
            assertEquals(DiskChecksum.ofFile(vm.images().get(i)), DiskChecksum.ofFile(vm.targets().get(i)), "disk " + i);
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabases.Kind.class)
    void fullThenIncrementalThenCbtResetFallsBackToFull(TestDatabases.Kind db) throws Exception {
        Path dir = TestPeers.scratchDirectory("vmware-job-");
        try (Vcsim vcsim = Vcsim.secure(USER, PASSWORD);
             Node node = NodeFixture.start(dir, TestDatabases.create(db, dir), vcenter(vcsim, dir))) {
            Vm vm = vm(vcsim, dir);

            JobDocument full = sync(node, vm.job("full", CopyMode.AUTO));
            assertEquals("completed", full.status(), full.error());
            long[] allocated = {6 * MIB, 6 * MIB};
            for (int i = 0; i < 2; i++) {
                JobDocument.Disk d = full.disks().get(i);
                assertEquals("full", d.mode(), d.modeReason());
                assertTrue(d.modeReason().contains("change tracking was off on the VM"), d.modeReason());
                assertEquals(allocated[i], d.totalBytes(), "total_bytes = the allocated areas, not the capacity");
                assertEquals(32 * MIB, d.capacity());
                assertEquals("vmware", ChangeToken.parse(d.changeToken()).orElseThrow().kind());
            }
            assertTargetsEqualImages(vm);
            assertEquals(0, vcsim.snapshots(Vcsim.VM), "the job's snapshots are removed");

            vm.write(0, 2 * MIB, MIB, 1); // next to allocated data
            vm.write(0, 14 * MIB, 512 * 1024, 2); // into a hole
            vm.write(1, 31 * MIB, MIB, 3);
            JobDocument inc = sync(node, vm.job("inc", CopyMode.INCREMENTAL));
            assertEquals("completed", inc.status(), inc.error());
            long[] changed = {MIB + 512 * 1024, MIB};
            for (int i = 0; i < 2; i++) {
                JobDocument.Disk d = inc.disks().get(i);
                assertEquals("incremental", d.mode(), d.modeReason());
                assertTrue(d.modeReason().contains("changes since changeId"), d.modeReason());
                assertEquals(changed[i], d.totalBytes(), "only the changed areas");
                assertTrue(d.bytesWritten() + d.bytesZeroed() <= changed[i], "moved only the changes");
            }
            assertTargetsEqualImages(vm);
            assertEquals(0, vcsim.snapshots(Vcsim.VM));

            JobDocument nothing = sync(node, vm.job("none", CopyMode.AUTO));
            assertEquals("completed", nothing.status(), nothing.error());
            assertEquals(0, nothing.disks().get(0).totalBytes(), "nothing changed: nothing moved");

            vcsim.resetTracking(Vcsim.VM, vm.keys().get(0));
            vm.write(0, 25 * MIB, MIB, 4);
            JobDocument refused = sync(node, vm.job("reset-inc", CopyMode.INCREMENTAL));
            assertEquals("failed", refused.status());
            assertTrue(refused.error().contains("CBT was reset on the disk"), refused.error());
            assertTrue(refused.error().contains("d1"), "names the disk: " + refused.error());
            assertEquals(0, vcsim.snapshots(Vcsim.VM), "no snapshot left by a failed job");

            JobDocument auto = sync(node, vm.job("reset-auto", CopyMode.AUTO));
            assertEquals("completed", auto.status(), auto.error());
            JobDocument.Disk d1 = auto.disks().stream().filter(d -> d.id().equals("d1")).findFirst().orElseThrow();
            assertEquals("full", d1.mode());
            assertTrue(d1.modeReason().contains("CBT was reset on the disk"), d1.modeReason());
            assertTargetsEqualImages(vm);
            assertEquals(0, vcsim.snapshots(Vcsim.VM));

            vm.write(1, 8 * MIB, MIB, 5);
            vcsim.failNext("QueryChangedDiskAreas", "FileFault");
            JobDocument fault = sync(node, vm.job("filefault", CopyMode.AUTO));
            assertEquals("completed", fault.status(), fault.error());
            assertTrue(fault.disks().stream().anyMatch(d -> d.mode().equals("full")
                    && d.modeReason().contains("vCenter rejected changeId")), fault.disks().toString());
            assertTargetsEqualImages(vm);
            assertEquals(0, vcsim.snapshots(Vcsim.VM));

            try (VimClient vim = vcsim.connect(USER, PASSWORD)) {
                // as if a process running job "again" had died with its snapshot
                vim.createSnapshot(vim.findByInventoryPath(Vcsim.VM_PATH).orElseThrow(), "blockferry-again", "", false);
            }
            JobDocument again = sync(node, vm.job("again", CopyMode.AUTO));
            assertEquals("completed", again.status(), again.error());
            assertEquals(0, vcsim.snapshots(Vcsim.VM), "the orphaned snapshot of the same job is removed too");
            assertTargetsEqualImages(vm);
            vm.write(0, 3 * MIB, MIB, 6);
            JobDocument after = sync(node, vm.job("after-crash", CopyMode.AUTO));
            assertEquals("completed", after.status(), after.error());
            for (JobDocument.Disk d : after.disks()) {
                assertEquals("full", d.mode(), "a sync resumed after a crash may have read two snapshots");
                assertTrue(d.modeReason().contains("resumed after its process died"), d.modeReason());
            }

            assertTargetsEqualImages(vm);
            assertEquals(0, vcsim.snapshots(Vcsim.VM));
        }
    }

    /** Ten syncs in a row through the HTTP API, guest writes in between, each verified. */
    @Test
    void tenIncrementalSyncsThroughTheApiStayEqualAndLeaveNoSnapshot() throws Exception {
        Path dir = TestPeers.scratchDirectory("vmware-cycles-");
        try (Vcsim vcsim = Vcsim.secure(USER, PASSWORD);
             org.blockferry.api.http.ApiFixture api = org.blockferry.api.http.ApiFixture.start(dir,
                     TestDatabases.Kind.H2, null, vcenter(vcsim, dir))) {
            Vm vm = vm(vcsim, dir);
            for (int cycle = 0; cycle <= 10; cycle++) {
                if (cycle > 0) {
                    vm.write(cycle % 2, (cycle * 3L % 30) * MIB, 256 * 1024 * (1 + cycle % 3), 40 + cycle);
                }
                String id = "cycle-" + cycle;
                var submitted = api.postJson("/api/v1/jobs", org.blockferry.api.http.ApiFixture.JSON
                        .writeValueAsString(vm.job(id, CopyMode.AUTO)));
                assertEquals(202, submitted.statusCode(), submitted.body());
                var doc = api.awaitFinal(id, Duration.ofMinutes(2));
                assertEquals("completed", doc.path("status").asText(), doc.toString());
                String mode = doc.path("disks").get(cycle % 2).path("mode").asText();
                assertEquals(cycle == 0 ? "full" : "incremental", mode, "cycle " + cycle);
                assertTargetsEqualImages(vm);
                assertEquals(0, vcsim.snapshots(Vcsim.VM), "cycle " + cycle + " left no snapshot");
            }
            assertTrue(doc(api, "cycle-10").path("total_bytes").asLong() < 2 * MIB, "the last sync moved the changes");
        }
    }

    private static com.fasterxml.jackson.databind.JsonNode doc(org.blockferry.api.http.ApiFixture api, String id)
            throws Exception {
        return org.blockferry.api.http.ApiFixture.json(api.get("/api/v1/jobs/" + id));
    }

    /**
     * vCenter refuses the snapshot once: a vCenter fault is transient, so the disk that asked for
     * it is retried (once), takes the snapshot then, and the job completes with exact copies and
     * leaves no snapshot.
     */
    @Test
    void aFailedSnapshotCreationIsRetriedAndTheJobCompletes() throws Exception {
        Path dir = TestPeers.scratchDirectory("vmware-snapfail-");
        try (Vcsim vcsim = Vcsim.secure(USER, PASSWORD);
             Node node = NodeFixture.start(dir, TestDatabases.create(TestDatabases.Kind.H2, dir), vcenter(vcsim, dir))) {
            Vm vm = vm(vcsim, dir);
            vcsim.failNext("CreateSnapshot_Task", "FileFault");
            JobDocument row = sync(node, vm.job("snapfail", CopyMode.AUTO));
            assertEquals("completed", row.status(), row.error());
            assertTargetsEqualImages(vm);
            assertEquals(0, vcsim.snapshots(Vcsim.VM), "no snapshot left behind");
            List<JobActor.DiskRetried> retried = events(node, "snapfail").stream()
                    .filter(JobActor.DiskRetried.class::isInstance).map(JobActor.DiskRetried.class::cast).toList();
            assertEquals(1, retried.size(), "one disk retried, once: " + retried);
            assertTrue(retried.get(0).reason().contains("FileFault"), "for the refused snapshot: " + retried);
            assertEquals(1, row.disks().stream().mapToLong(JobDocument.Disk::retries).sum(), row.disks().toString());
        }
    }

    /** The job's events, from the journal. */
    private static List<Object> events(Node node, String jobId) throws Exception {
        JdbcReadJournal journal = PersistenceQuery.get(node.system()).getReadJournalFor(JdbcReadJournal.class,
                JdbcReadJournal.Identifier());
        return journal.currentEventsByPersistenceId("ReplicationJob|" + jobId, 0, Long.MAX_VALUE)
                .runWith(Sink.seq(), node.system()).toCompletableFuture().get(60, TimeUnit.SECONDS).stream()
                .map(EventEnvelope::event).toList();
    }

    @Test
    void aCancelledJobLeavesNoSnapshot() throws Exception {
        Path dir = TestPeers.scratchDirectory("vmware-cancel-");
        try (Vcsim vcsim = Vcsim.secure(USER, PASSWORD);
             NbdkitServer t1 = slowTarget(dir);
             NbdkitServer t2 = slowTarget(dir);
             Node node = NodeFixture.start(dir, TestDatabases.create(TestDatabases.Kind.H2, dir), vcenter(vcsim, dir))) {
            Vm vm = vm(vcsim, dir);
            JobSpec spec = submitSlow(node, vm, "cancel", t1, t2, null);
            awaitSnapshots(vcsim, n -> n > 0, Duration.ofSeconds(60), "the job took its snapshot");
            Thread.sleep(300);
            assertEquals(1, vcsim.snapshots(Vcsim.VM), "one snapshot for both disks of the job");
            node.jobs().cancel(spec.jobId()).toCompletableFuture().get(60, TimeUnit.SECONDS);
            JobDocument row = NodeFixture.awaitReadSide(node, spec.jobId(), Duration.ofMinutes(2));
            assertEquals("cancelled", row.status(), String.valueOf(row.error()));
            awaitSnapshots(vcsim, n -> n == 0, Duration.ofSeconds(60), "cancel removes the job's snapshots");
        }
    }

    @Test
    void overTlsThePinnedThumbprintDecides() throws Exception {
        Path dir = TestPeers.scratchDirectory("vmware-tls-");
        try (Vcsim vcsim = Vcsim.secure(USER, PASSWORD)) {
            Map<String, Object> config = vcenter(vcsim, dir);
            String wrong = "blockferry.vmware.vcenters.wrong-cert.";
            config.putAll(Map.of(wrong + "url", vcsim.sdkUrl().toString(), wrong + "user", USER,
                    wrong + "password-file", dir.resolve("vc-password").toString(), wrong + "thumbprint", "00".repeat(32)));
            try (Node node = NodeFixture.start(dir, TestDatabases.create(TestDatabases.Kind.H2, dir), config)) {
                assertTrue(vcsim.sdkUrl().getScheme().equals("https"), vcsim.sdkUrl().toString());
                Vm vm = vm(vcsim, dir);
                Path image = vm.images().get(0);
                Path target = vm.targets().get(0);
                for (String vcenter : List.of("wrong-cert", VC)) {
                    JobSpec spec = new JobSpec(vcenter.equals(VC) ? "pinned" : "wrong-cert", Vcsim.VM,
                            JobSpec.Source.vmware(vcenter, Vcsim.VM_PATH, Map.of(DS_PREFIX, dir.resolve("ds") + "/")),
                            List.of(new JobSpec.Disk("d1", DS_PREFIX + "disk1.vmdk", target.toString())), CopyMode.AUTO,
                            null).validated();
                    JobDocument row = sync(node, spec);
                    if (vcenter.equals(VC)) {
                        assertEquals("completed", row.status(), row.error());
                        assertEquals(DiskChecksum.ofFile(image), DiskChecksum.ofFile(target));
                    } else {
                        assertEquals("failed", row.status());
                        assertTrue(row.error().contains("blockferry.vmware.vcenters.wrong-cert.thumbprint: the TLS"
                                + " handshake with vCenter wrong-cert"), row.error());
                        assertTrue(row.error().contains("does not match the pinned thumbprint"), row.error());
                    }
                }
                assertEquals(0, vcsim.snapshots(Vcsim.VM));
            }
        }
    }

    @Test
    void badCredentialsAndAMissingVmAreClearJobErrors() throws Exception {
        Path dir = TestPeers.scratchDirectory("vmware-bad-");
        try (Vcsim vcsim = Vcsim.secure(USER, PASSWORD);
             Node node = NodeFixture.start(dir, TestDatabases.create(TestDatabases.Kind.H2, dir), vcenter(vcsim, dir))) {
            Vm vm = vm(vcsim, dir);
            Files.writeString(vm.passwordFile(), "not-it\n");

            JobDocument login = sync(node, vm.job("bad-login", CopyMode.AUTO));
            assertEquals("failed", login.status());
            assertTrue(login.error().contains("blockferry.vmware.vcenters.vc1.user: vCenter vc1 (" + vcsim.sdkUrl()
                    + ") refused the login of 'bf'"), login.error());
            assertFalse(login.error().contains("not-it"), "the password is never shown: " + login.error());

            Files.delete(vm.passwordFile());
            JobDocument noFile = sync(node, vm.job("no-pw", CopyMode.AUTO));
            assertEquals("failed", noFile.status());
            assertTrue(noFile.error().contains("blockferry.vmware.vcenters.vc1.password-file: cannot be read"),
                    noFile.error());
            assertFalse(noFile.error().contains(vm.passwordFile().toString()), "the node's paths stay on the node: "
                    + noFile.error());

            Files.writeString(vm.passwordFile(), PASSWORD + "\n"); // fixed: read at the next login, no restart
            JobDocument missing = sync(node, vm.job("no-vm", CopyMode.AUTO, VC, "DC0/vm/nope"));
            assertEquals("failed", missing.status());
            assertTrue(missing.error().contains("no VM at inventory path 'DC0/vm/nope'"), missing.error());

            for (Path t : vm.targets()) {
                assertFalse(Files.exists(t), "no target was created");
            }
            assertEquals(0, vcsim.snapshots(Vcsim.VM));
        }
    }

    /** A target whose writes take 300 ms each: the test acts while the disks copy. */
    private static NbdkitServer slowTarget(Path dir) {
        return NbdkitServer.start(dir, "--filter=delay", "memory", "size=32M", "wdelay=300ms");
    }

    /** Submits the VM's job with its two disks on {@code t1} and {@code t2}; returns the spec. */
    private static JobSpec submitSlow(Node node, Vm vm, String jobId, NbdkitServer t1, NbdkitServer t2,
                                      JobSpec.Options options) throws Exception {
        JobSpec local = vm.job(jobId, CopyMode.AUTO);
        JobSpec spec = new JobSpec(local.jobId(), local.vm(), local.source(), List.of(
                new JobSpec.Disk("d1", local.disks().get(0).source(), t1.uri()),
                new JobSpec.Disk("d2", local.disks().get(1).source(), t2.uri())), CopyMode.AUTO, options).validated();
        assertInstanceOf(JobReply.Accepted.class, node.jobs().submit(spec).toCompletableFuture()
                .get(60, TimeUnit.SECONDS));
        return spec;
    }

    private static void assertSlowTargetsEqualImages(Vm vm, NbdkitServer t1, NbdkitServer t2) {
        assertEquals(DiskChecksum.ofFile(vm.images().get(0)), DiskChecksum.ofUri(t1.uri()), "disk 0");
        assertEquals(DiskChecksum.ofFile(vm.images().get(1)), DiskChecksum.ofUri(t2.uri()), "disk 1");
    }

    /** Waits up to {@code timeout} until the VM's snapshot count satisfies {@code until}. */
    static void awaitSnapshots(Vcsim vcsim, java.util.function.IntPredicate until, Duration timeout, String what)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!until.test(vcsim.snapshots(Vcsim.VM)) && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertTrue(until.test(vcsim.snapshots(Vcsim.VM)), what + " (snapshots: " + vcsim.snapshots(Vcsim.VM) + ")");
    }

    @Test
    void sessionsExpiredMidCopyLogInAgain() throws Exception {
        Path dir = TestPeers.scratchDirectory("vmware-expire-");
        try (Vcsim vcsim = Vcsim.secure(USER, PASSWORD);
             NbdkitServer t1 = slowTarget(dir);
             NbdkitServer t2 = slowTarget(dir);
             Node node = NodeFixture.start(dir, TestDatabases.create(TestDatabases.Kind.H2, dir), vcenter(vcsim, dir))) {
            Vm vm = vm(vcsim, dir);
            JobSpec spec = submitSlow(node, vm, "expire", t1, t2, null);
            awaitSnapshots(vcsim, n -> n > 0, Duration.ofSeconds(60), "the job took its snapshot");
            vcsim.expireSessions(); // as vCenter's idle timeout would, while the disks copy
            JobDocument row = NodeFixture.awaitReadSide(node, spec.jobId(), Duration.ofMinutes(2));
            assertEquals("completed", row.status(), row.error());
            assertSlowTargetsEqualImages(vm, t1, t2);
            assertEquals(0, vcsim.snapshots(Vcsim.VM), "removed after logging in again");
        }
    }

    /**
     * The vCenter password is in no log line, event, read-side row, job document, child process's
     * arguments or environment; the job names the vCenter, never its password file. The job
     * with the right password copies the disk (the target's bytes are the image's); the one with
     * a wrong password that contains the right one fails.
     */
    @Test
    void thePasswordAppearsInNoLogEventOrDocument() throws Exception {
        Path dir = TestPeers.scratchDirectory("vmware-secret-");
        String secret = "Zq7-unmistakable-pw-41";
        Path password = Files.writeString(dir.resolve("secret-password"), secret + "\n");
        Path wrongPassword = Files.writeString(dir.resolve("not-the-secret"), secret + "x\n");
        ch.qos.logback.classic.Logger root = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory
                .getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> captured =
                new ch.qos.logback.core.read.ListAppender<>();
        captured.start();
        ch.qos.logback.classic.Logger ours = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory
                .getLogger("org.blockferry");
        ch.qos.logback.classic.Level level = ours.getLevel();
        ours.setLevel(ch.qos.logback.classic.Level.DEBUG);
        root.addAppender(captured);
        try (Vcsim vcsim = Vcsim.secure(USER, password)) {
            Map<String, Object> config = new java.util.HashMap<>(vcsim.nodeConfig(VC, USER, password));
            config.putAll(vcsim.nodeConfig("vc-wrong", USER, wrongPassword));
            try (NbdkitServer target = slowTarget(dir);
                 Node node = NodeFixture.start(dir, TestDatabases.create(TestDatabases.Kind.H2, dir), config)) {
                Path ds = Files.createDirectories(dir.resolve("ds"));
                Path image = ds.resolve("disk1.vmdk");
                try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
                    f.setLength(32 * MIB);
                }
                writeImage(image, MIB, MIB, 7);
                try (VimClient vim = vcsim.connect(USER, secret)) {
                    ManagedObject m = vim.findByInventoryPath(Vcsim.VM_PATH).orElseThrow();
                    vcsim.allocateFromImage(Vcsim.VM, vim.virtualDisks(m).get(0).key(), image);
                }
                StringBuilder children = new StringBuilder();
                int seenChildren = 0;
                for (String vcenter : List.of(VC, "vc-wrong")) {
                    String jobId = vcenter.equals(VC) ? "secret" : "secret-wrong";
                    JobSpec spec = new JobSpec(jobId, Vcsim.VM, JobSpec.Source.vmware(vcenter, Vcsim.VM_PATH,
                            Map.of(DS_PREFIX, ds + "/")), List.of(new JobSpec.Disk("d1", DS_PREFIX + "disk1.vmdk",
                            target.uri())), CopyMode.AUTO, null).validated();
                    assertInstanceOf(JobReply.Accepted.class, node.jobs().submit(spec).toCompletableFuture()
                            .get(60, TimeUnit.SECONDS));
                    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
                    while (!node.jobs().get(jobId).toCompletableFuture().get().status().isFinal()) {
                        seenChildren += processes(children); // the nbdkit serving the image, while it runs
                        assertTrue(System.nanoTime() < deadline, "job " + jobId + " ended");
                        Thread.sleep(20);
                    }
                    JobDocument row = NodeFixture.awaitReadSide(node, jobId, Duration.ofMinutes(1));
                    if (vcenter.equals(VC)) {
                        assertEquals("completed", row.status(), row.error());
                        assertEquals(DiskChecksum.ofFile(image), DiskChecksum.ofUri(target.uri()),
                                "the target holds the source's bytes");
                    } else {
                        assertEquals("failed", row.status());
                        assertTrue(row.error().contains("refused the login of 'bf'"), row.error());
                    }
                }
                assertTrue(seenChildren > 0 && children.toString().contains("nbdkit"),
                        "the child processes were looked at: " + children);
                assertFalse(children.toString().contains(secret), "the password is in a child's arguments or"
                        + " environment");

                StringBuilder seen = new StringBuilder();
                JdbcReadJournal journal = PersistenceQuery.get(node.system()).getReadJournalFor(JdbcReadJournal.class,
                        JdbcReadJournal.Identifier());
                var json = new com.fasterxml.jackson.databind.ObjectMapper();
                for (String jobId : List.of("secret", "secret-wrong")) {
                    List<EventEnvelope> events = journal.currentEventsByPersistenceId("ReplicationJob|" + jobId, 0,
                            Long.MAX_VALUE).runWith(Sink.seq(), node.system()).toCompletableFuture()
                            .get(60, TimeUnit.SECONDS);
                    assertFalse(events.isEmpty(), "the job's events");
                    for (EventEnvelope e : events) {
                        seen.append(e.event()).append('\n');
                        seen.append(json.writeValueAsString(e.event())).append('\n');
                    }
                    JobDocument row = node.queries().get(jobId).orElseThrow();
                    seen.append(row).append('\n');
                    seen.append(json.writeValueAsString(JobDocuments.of(row))).append('\n');
                    seen.append(json.writeValueAsString(node.queries().state(jobId).orElseThrow())).append('\n');
                }
                assertTrue(seen.toString().contains("\"vcenter\":\"" + VC + "\""), "the job names its vCenter: " + seen);
                assertFalse(seen.toString().contains(secret), "the password is in an event or document");
                assertFalse(seen.toString().contains("secret-password") || seen.toString().contains("not-the-secret"),
                        "the password file's path stays in the node's configuration");
            }
            List<String> logs = captured.list.stream().map(e -> e.getFormattedMessage()
                    + (e.getThrowableProxy() == null ? "" : " " + e.getThrowableProxy().getMessage())).toList();
            assertTrue(logs.stream().anyMatch(l -> l.contains("vsphere_login")), "the logins were logged");
            for (String l : logs) {
                assertFalse(l.contains(secret), "the password is in a log line: " + l);
            }
        } finally {
            root.detachAppender(captured);
            ours.setLevel(level);
        }
    }

    /** Appends the arguments and environment of this JVM's child processes; returns how many were read. */
    private static int processes(StringBuilder out) {
        int n = 0;
        for (ProcessHandle p : ProcessHandle.current().descendants().toList()) {
            try {
                Path proc = Path.of("/proc", String.valueOf(p.pid()));
                out.append(new String(Files.readAllBytes(proc.resolve("cmdline"))).replace('\0', ' ')).append('\n');
                out.append(new String(Files.readAllBytes(proc.resolve("environ"))).replace('\0', ' ')).append('\n');
                n++;
            } catch (IOException gone) {
                // ended in between
            }
        }
        return n;
    }

    @Test
    void vcenterDownMidJobIsAClearBoundedFailure() throws Exception {
        Path dir = TestPeers.scratchDirectory("vmware-down-");
        long started = System.nanoTime();
        try (Vcsim vcsim = Vcsim.secure(USER, PASSWORD);
             NbdkitServer t1 = slowTarget(dir);
             NbdkitServer t2 = slowTarget(dir);
             Node node = NodeFixture.start(dir, TestDatabases.create(TestDatabases.Kind.H2, dir), vcenter(vcsim, dir))) {
            Vm vm = vm(vcsim, dir);
            // one disk at a time: d2 starts (and logs in) after vCenter is gone
            JobSpec spec = submitSlow(node, vm, "down", t1, t2, new JobSpec.Options(1, false, false, false));
            awaitSnapshots(vcsim, n -> n > 0, Duration.ofSeconds(60), "the job took its snapshot");
            vcsim.close(); // vCenter goes down while d1 copies
            JobDocument row = NodeFixture.awaitReadSide(node, spec.jobId(), Duration.ofMinutes(2));
            assertEquals("failed", row.status(), row.error());
            assertTrue(row.error().contains("d2"), "names the disk: " + row.error());
            assertTrue(row.error().contains(vcsim.sdkUrl().toString()) && row.error().contains("vCenter"),
                    "names vCenter: " + row.error());
        }
        assertTrue(System.nanoTime() - started < TimeUnit.MINUTES.toNanos(2), "bounded");
    }

    @Test
    void aFinalSyncShutsTheVmDownThenSyncsTheChanges() throws Exception {
        Path dir = TestPeers.scratchDirectory("vmware-final-");
        try (Vcsim vcsim = Vcsim.secure(USER, PASSWORD);
             Node node = NodeFixture.start(dir, TestDatabases.create(TestDatabases.Kind.H2, dir),
                     vcenter(vcsim, dir, Map.of("blockferry.vmware.shutdown-timeout", "20s")))) {
            Vm vm = vm(vcsim, dir);
            JobDocument full = sync(node, vm.job("before-cutover", CopyMode.AUTO));
            assertEquals("completed", full.status(), full.error());
            try (VimClient vim = vcsim.connect(USER, PASSWORD)) {
                assertEquals("poweredOn", vim.powerState(vim.findByInventoryPath(Vcsim.VM_PATH).orElseThrow()));
            }
            vm.write(0, 5 * MIB, MIB, 11);
            vm.write(1, 12 * MIB, 2 * MIB, 12);
            JobSpec plain = vm.job("cutover", CopyMode.AUTO);
            JobSpec cutover = new JobSpec(plain.jobId(), plain.vm(), plain.source(), plain.disks(), CopyMode.AUTO,
                    new JobSpec.Options(0, false, false, false, true)).validated();
            JobDocument last = sync(node, cutover);
            assertEquals("completed", last.status(), last.error());
            for (JobDocument.Disk d : last.disks()) {
                assertEquals("incremental", d.mode(), d.modeReason());
            }
            try (VimClient vim = vcsim.connect(USER, PASSWORD)) {
                assertEquals("poweredOff", vim.powerState(vim.findByInventoryPath(Vcsim.VM_PATH).orElseThrow()),
                        "the final sync leaves the VM powered off");
            }
            assertTargetsEqualImages(vm);
            assertEquals(0, vcsim.snapshots(Vcsim.VM));
        }
    }

    /**
     * A final sync of the VM in {@code vcsim} (the node's vCenter {@code vcenter}), whose guest
     * fails (or ignores) ShutdownGuest as set up by the caller.
     */
    private static void finalSyncPowersOff(Node node, Vcsim vcsim, String vcenter, Path dir, String jobId,
                                           long atLeastMillis) throws Exception {
        Vm vm = vm(vcsim, dir);
        JobSpec plain = vm.job(jobId, CopyMode.AUTO, vcenter, Vcsim.VM_PATH);
        long started = System.nanoTime();
        JobDocument row = sync(node, new JobSpec(plain.jobId(), plain.vm(), plain.source(), plain.disks(), CopyMode.AUTO,
                new JobSpec.Options(0, false, false, false, true)).validated());
        long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
        assertEquals("completed", row.status(), row.error());
        assertTrue(tookMillis >= atLeastMillis, "waited for the guest first: " + tookMillis + " ms");
        try (VimClient vim = vcsim.connect(USER, PASSWORD)) {
            assertEquals("poweredOff", vim.powerState(vim.findByInventoryPath(Vcsim.VM_PATH).orElseThrow()));
        }
        assertTargetsEqualImages(vm);
        assertEquals(0, vcsim.snapshots(Vcsim.VM));
    }

    @Test
    void aFinalSyncPowersOffAVmWhoseGuestCannotOrDoesNotShutDown() throws Exception {
        Path dir = TestPeers.scratchDirectory("vmware-poweroff-");
        try (Vcsim refusing = Vcsim.secure(USER, PASSWORD);
             Vcsim ignoring = Vcsim.secure(USER, PASSWORD)) {
            Map<String, Object> config = vcenter(refusing, dir, Map.of("blockferry.vmware.shutdown-timeout", "3s"));
            config.putAll(ignoring.nodeConfig("vc2", USER, dir.resolve("vc-password")));
            try (Node node = NodeFixture.start(dir, TestDatabases.create(TestDatabases.Kind.H2, dir), config)) {
                refusing.failNext("ShutdownGuest", "ToolsUnavailable"); // refused: powered off at once
                finalSyncPowersOff(node, refusing, VC, Files.createDirectories(dir.resolve("refused")), "cutover-hard",
                        0);
                ignoring.ignoreNext("ShutdownGuest"); // accepted, but the guest stays on: powered off after the timeout
                finalSyncPowersOff(node, ignoring, "vc2", Files.createDirectories(dir.resolve("ignored")),
                        "cutover-timeout", 3000);
            }
        }
    }

    @Test
    void aSnapshotLeftByAVcenterOutageIsRemovedOnceVcenterIsBack() throws Exception {
        Path dir = TestPeers.scratchDirectory("vmware-outage-");
        try (Vcsim vcsim = Vcsim.secure(USER, PASSWORD);
             NbdkitServer t1 = slowTarget(dir);
             NbdkitServer t2 = slowTarget(dir);
             Node node = NodeFixture.start(dir, TestDatabases.create(TestDatabases.Kind.H2, dir), vcenter(vcsim, dir))) {
            Vm vm = vm(vcsim, dir);
            JobSpec spec = submitSlow(node, vm, "outage", t1, t2, null);
            long started = System.nanoTime();
            while (!node.jobs().get(spec.jobId()).toCompletableFuture().get().disks().values().stream()
                    .allMatch(d -> d.mode() != null)) { // both disks prepared: copying, vCenter not needed till the end
                assertTrue(System.nanoTime() - started < TimeUnit.SECONDS.toNanos(60), "both disks started");
                Thread.sleep(20);
            }
            vcsim.outage(Duration.ofSeconds(30));
            JobDocument row = NodeFixture.awaitReadSide(node, spec.jobId(), Duration.ofMinutes(2));
            assertEquals("completed", row.status(), row.error());
            assertSlowTargetsEqualImages(vm, t1, t2);
            assertEquals(1, vcsim.snapshots(Vcsim.VM), "vCenter is still down: the snapshot could not go yet");
            vcsim.outage(Duration.ZERO); // back
            awaitSnapshots(vcsim, n -> n == 0, Duration.ofSeconds(90),
                    "removed in the background once vCenter answered again");
        }
    }
}
