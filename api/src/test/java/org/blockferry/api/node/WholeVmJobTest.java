package org.blockferry.api.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.ConfigFactory;
import java.io.RandomAccessFile;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.blockferry.api.cli.CliRunner;
import org.blockferry.api.http.ApiFixture;
import org.blockferry.engine.job.JobState;
import org.blockferry.engine.source.vmware.testing.Vcsim;
import org.blockferry.engine.source.vmware.vim.VimClient;
import org.blockferry.engine.source.vmware.vim.VirtualDiskInfo;
import org.blockferry.nbd.testing.DiskChecksum;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.Test;

/**
 * Whole-VM jobs through the HTTP API against vcsim with three disks per VM, in datastore-mapped
 * mode: a job that names the VM and a target template syncs every disk of the VM, and a template
 * that cannot name each disk safely — or a VM or vCenter that cannot answer — is refused before
 * any job exists.
 */
class WholeVmJobTest {
    private static final long MIB = 1L << 20;
    private static final String USER = VmwareSyncJobTest.USER;
    private static final String PASSWORD = VmwareSyncJobTest.PASSWORD;

    private static Vcsim threeDisks() {
        return Vcsim.start(List.of("-tls", "-username", USER, "-password", PASSWORD, "-disks", "3"));
    }

    /** The body of a whole-VM job of the simulator's VM, its VMDKs mapped to {@code dir/ds}. */
    private static ObjectNode wholeVm(String jobId, Path dir, String template) {
        ObjectNode job = ApiFixture.JSON.createObjectNode().put("job_id", jobId).put("vm", Vcsim.VM);
        ObjectNode source = job.putObject("source").put("kind", "vmware").put("vcenter", VmwareSyncJobTest.VC)
                .put("vm", Vcsim.VM_PATH);
        source.putObject("datastore_map").put(VmwareSyncJobTest.DS_PREFIX, dir.resolve("ds") + "/");
        return job.put("target_template", template);
    }

    private static List<VirtualDiskInfo> disks(Vcsim vcsim) throws Exception {
        try (VimClient vim = vcsim.connect(USER, PASSWORD)) {
            List<VirtualDiskInfo> disks = vim.virtualDisks(vim.findByInventoryPath(Vcsim.VM_PATH).orElseThrow());
            assertEquals(3, disks.size());
            return disks;
        }
    }

    /** A sparse raw image per disk under {@code dir/ds} with some data in it, what CBT reports as allocated. */
    private static List<Path> images(Vcsim vcsim, Path dir, List<VirtualDiskInfo> disks) throws Exception {
        Path ds = Files.createDirectories(dir.resolve("ds"));
        List<Path> images = new ArrayList<>();
        for (int i = 0; i < disks.size(); i++) {
            VirtualDiskInfo d = disks.get(i);
            assertTrue(d.baseFileName().startsWith(VmwareSyncJobTest.DS_PREFIX), d.baseFileName());
            Path image = ds.resolve(d.baseFileName().substring(VmwareSyncJobTest.DS_PREFIX.length()));
            try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
                f.setLength(16 * MIB); // sparse: the gaps are holes
            }
            VmwareSyncJobTest.writeImage(image, i * MIB, (i + 1) * MIB, 10L + i);
            VmwareSyncJobTest.writeImage(image, 9 * MIB, 512 * 1024, 20L + i);
            vcsim.allocateFromImage(Vcsim.VM, d.key(), image);
            images.add(image);
        }
        return images;
    }

    @Test
    void aWholeVmJobSyncsEveryDiskOfTheVmToItsTemplatedTarget() throws Exception {
        Path dir = TestPeers.scratchDirectory("whole-vm-job-");
        try (Vcsim vcsim = threeDisks();
             ApiFixture api = ApiFixture.start(dir, TestDatabases.Kind.H2, null, VmwareSyncJobTest.vcenter(vcsim, dir))) {
            List<VirtualDiskInfo> disks = disks(vcsim);
            List<Path> images = images(vcsim, dir, disks);
            Path targets = Files.createDirectories(dir.resolve("targets").resolve(Vcsim.VM));
            String body = wholeVm("whole", dir, dir.resolve("targets") + "/{vm}/{disk_key}.img").toString();

            HttpResponse<String> submitted = api.postJson("/api/v1/jobs", body);
            assertEquals(202, submitted.statusCode(), submitted.body());
            JsonNode doc = api.awaitFinal("whole", Duration.ofMinutes(3));
            assertEquals("completed", doc.path("status").asText(), doc.toString());
            assertEquals(3, doc.path("disks").size(), doc.toString());
            for (int i = 0; i < 3; i++) {
                String key = String.valueOf(disks.get(i).key());
                JsonNode disk = doc.path("disks").get(i);
                assertEquals(key, disk.path("id").asText(), "the disk's id is its device key");
                assertEquals(key, disk.path("source").asText());
                Path target = targets.resolve(key + ".img");
                assertEquals(target.toString(), disk.path("target").asText());
                assertEquals(DiskChecksum.ofFile(images.get(i)), DiskChecksum.ofFile(target), "disk " + key);
            }
            assertEquals(0, vcsim.snapshots(Vcsim.VM), "the job's snapshot is removed");

            HttpResponse<String> again = api.postJson("/api/v1/jobs", body);
            assertEquals(202, again.statusCode(), "the same job, expanded the same: " + again.body());
            assertEquals("completed", ApiFixture.json(again).path("status").asText(), again.body());
        }
    }

    @Test
    void aTemplateThatCannotNameEachDiskSafelyIsRefusedAndNoJobIsCreated() throws Exception {
        Path dir = TestPeers.scratchDirectory("whole-vm-hostile-");
        Path roots = Files.createDirectories(dir.resolve("roots"));
        try (Vcsim vcsim = threeDisks();
             ApiFixture api = ApiFixture.start(dir, TestDatabases.Kind.H2, null, VmwareSyncJobTest.vcenter(vcsim, dir,
                     java.util.Map.<String, Object>of("blockferry.storage.allowed-roots", List.of(roots.toString()))))) {
            String ok = roots + "/{vm}-{disk_key}.img";
            List<String> ids = new ArrayList<>();
            Refusal refusal = (id, field, why, change) -> {
                ObjectNode job = wholeVm(id, roots, ok);
                change.accept(job);
                HttpResponse<String> r = api.postJson("/api/v1/jobs", job.toString());
                assertEquals(400, r.statusCode(), id + ": " + r.body());
                JsonNode error = ApiFixture.json(r).path("error");
                assertEquals(field, error.path("field").asText(), id + ": " + r.body());
                assertTrue(error.path("message").asText().contains(why), id + ": " + r.body());
                ids.add(id);
            };
            refusal.check("no-key", "target_template", "has no {disk_key}",
                    j -> j.put("target_template", roots + "/{vm}.img"));
            refusal.check("unknown", "target_template", "'{name}' is not a placeholder",
                    j -> j.put("target_template", roots + "/{name}-{disk_key}.img"));
            refusal.check("with-disks", "target_template", "not both", j -> j.putArray("disks").addObject()
                    .put("id", "d1").put("source", "2000").put("target", roots + "/d1.img"));
            refusal.check("nbd-kind", "target_template", "vmware only", j -> j.putObject("source").put("kind", "nbd"));
            refusal.check("neither", "disks", "at least one disk", j -> j.remove("target_template"));
            refusal.check("dot-dot", "target_template", "{vm} would be '..'",
                    j -> ((ObjectNode) j.path("source")).put("vm", "DC0/vm/.."));
            refusal.check("slash-name", "source.vm", "no VM at inventory path",
                    j -> ((ObjectNode) j.path("source")).put("vm", "DC0/vm/..%2f..%2fetc"));
            refusal.check("outside", "target_template", "is outside the allowed storage roots",
                    j -> j.put("target_template", dir + "/{vm}-{disk_key}.img"));
            refusal.check("up-and-out", "target_template", "is outside the allowed storage roots",
                    j -> j.put("target_template", roots + "/{vm}/../../{disk_key}.img"));
            refusal.check("relative", "target_template", "is a relative path",
                    j -> j.put("target_template", "{vm}-{disk_key}.img"));
            refusal.check("no-vm", "source.vm", "no VM at inventory path 'DC0/vm/nope'",
                    j -> ((ObjectNode) j.path("source")).put("vm", "DC0/vm/nope"));
            refusal.check("no-vcenter", "source.vcenter", "'vc9' is not a vCenter of this node",
                    j -> ((ObjectNode) j.path("source")).put("vcenter", "vc9"));

            vcsim.outage(Duration.ofSeconds(5));
            HttpResponse<String> down = api.postJson("/api/v1/jobs", wholeVm("outage", roots, ok).toString());
            assertEquals(503, down.statusCode(), down.body());
            assertTrue(down.headers().firstValue("Retry-After").isPresent(), "says when to try again");
            String message = ApiFixture.json(down).path("error").path("message").asText();
            assertTrue(message.startsWith("cannot list the disks of VM '" + Vcsim.VM_PATH + "': cannot reach vCenter vc1"),
                    message);
            assertFalse(down.body().contains(PASSWORD) || down.body().contains("\tat "), "no secret, no stack trace: "
                    + down.body());
            ids.add("outage");

            for (String id : ids) {
                JobState s = api.node.jobs().get(id).toCompletableFuture().get(30, TimeUnit.SECONDS);
                assertEquals(JobState.JobStatus.NEW, s.status(), "no job " + id);
            }
            assertEquals(0, ApiFixture.json(api.get("/api/v1/jobs")).path("count").asInt());
            try (var files = Files.list(roots)) {
                assertEquals(List.of(), files.toList(), "no target was created");
            }
            assertEquals(0, vcsim.snapshots(Vcsim.VM), "vCenter was only asked, never changed");
        }
    }

    /** The operator's command expands a whole-VM job file as the API does, on the vCenters of its configuration. */
    @Test
    void aWholeVmJobFileRunsThroughReplicate() throws Exception {
        Path dir = TestPeers.scratchDirectory("whole-vm-cli-");
        try (Vcsim vcsim = threeDisks()) {
            Map<String, Object> config = VmwareSyncJobTest.vcenter(vcsim, dir);
            config.put("blockferry.data-dir", dir.resolve("node").toString());
            config.forEach((k, v) -> System.setProperty(k, v.toString()));
            ConfigFactory.invalidateCaches();
            try {
                List<VirtualDiskInfo> disks = disks(vcsim);
                List<Path> images = images(vcsim, dir, disks);
                Path jobFile = Files.writeString(dir.resolve("whole.json"),
                        wholeVm("whole-cli", dir, dir + "/{vm}-{disk_key}.img").toString());
                CliRunner.Run run = CliRunner.run("replicate", "--json", "--job-file", jobFile.toString());
                assertEquals(0, run.code(), run.err());
                JsonNode doc = ApiFixture.JSON.readTree(run.out());
                assertEquals("completed", doc.path("status").asText(), run.out());
                assertEquals(3, doc.path("disks").size(), run.out());
                for (int i = 0; i < 3; i++) {
                    String key = String.valueOf(disks.get(i).key());
                    Path target = dir.resolve(Vcsim.VM + "-" + key + ".img");
                    assertEquals(key, doc.path("disks").get(i).path("id").asText());
                    assertEquals(target.toString(), doc.path("disks").get(i).path("target").asText());
                    assertEquals(DiskChecksum.ofFile(images.get(i)), DiskChecksum.ofFile(target), "disk " + key);
                }

                Files.writeString(jobFile, wholeVm("no-key", dir, dir + "/{vm}.img").toString());
                CliRunner.Run refused = CliRunner.run("replicate", "--job-file", jobFile.toString());
                assertEquals(2, refused.code(), refused.err());
                assertTrue(refused.err().contains("target_template: '" + dir + "/{vm}.img' has no {disk_key}"),
                        refused.err());
            } finally {
                config.keySet().forEach(System::clearProperty);
                ConfigFactory.invalidateCaches();
            }
        }
    }

    /** Submits the whole-VM job {@code id} changed by {@code change}: refused with 400 naming {@code field}. */
    private interface Refusal {
        void check(String id, String field, String why, Consumer<ObjectNode> change) throws Exception;
    }
}
