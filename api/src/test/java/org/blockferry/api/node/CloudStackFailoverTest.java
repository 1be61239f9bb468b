package org.blockferry.api.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.blockferry.engine.cloudstack.CloudStackDouble;
import org.blockferry.engine.cloudstack.Clouds;
import org.blockferry.engine.cloudstack.Volume;
import org.blockferry.nbd.testing.DiskChecksum;
import org.blockferry.nbd.testing.NbdkitServer;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Three node processes on one PostgreSQL, each with its own appliance VM in one CloudStack API
 * double (in this JVM, reached over HTTP): a job with a cloudstack target, its source slowed by
 * nbdkit's rate filter, is copying into its volume on one node when that node gets SIGKILL. The
 * job resumes and completes on a survivor, which detaches the same volume from the dead node's
 * appliance, attaches it to its own and writes the rest; the volume then equals the source, and
 * no other volume (one foreign volume on every appliance) was touched.
 */
@Tag("cluster")
class CloudStackFailoverTest {
    private static final long SIZE = 64L << 20;
    private static final long CHECKPOINT = 8L << 20;
    private static final long GIB = 1L << 30;
    private static final int NODES = 3;
    private static final String JOB = "cs-failover";

    private record Appliance(String vmId, Path deviceDir, String foreignVolume) {
    }

    /** Node {@code i}'s cloud c1, as -D settings: its own appliance VM and device dir. */
    private static Map<String, String> cloudSettings(CloudStackDouble cloud, Appliance a) {
        String key = Clouds.KEY + ".c1.";
        Map<String, String> m = new HashMap<>();
        m.put(key + "url", cloud.url().toString());
        m.put(key + "api-key-file", cloud.apiKeyFile().toString());
        m.put(key + "secret-key-file", cloud.secretKeyFile().toString());
        m.put(key + "zone", "zone-1");
        m.put(key + "disk-offering", "custom");
        m.put(key + "appliance-vm-id", a.vmId());
        m.put(key + "device-dir", a.deviceDir().toString());
        m.put(key + "device-timeout", "10s");
        m.put(key + "async-timeout", "30s");
        return m;
    }

    private static String job(String sourceUri) {
        return "{\"job_id\": \"" + JOB + "\", \"vm\": \"web01\", \"mode\": \"full\","
                + " \"target\": {\"kind\": \"cloudstack\", \"cloud\": \"c1\"},"
                + " \"disks\": [{\"id\": \"d0\", \"source\": \"" + sourceUri + "\"}]}";
    }

    /** The {@code virtio-*} links under an appliance's device dir. */
    private static List<String> links(Path deviceDir) throws IOException {
        if (!Files.isDirectory(deviceDir)) {
            return List.of();
        }
        try (var s = Files.list(deviceDir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("virtio-")).sorted().toList();
        }
    }

    private static String serial(String volumeId) {
        return "virtio-" + volumeId.replace("-", "").substring(0, 20);
    }

    private static String losetup() throws IOException, InterruptedException {
        Process p = new ProcessBuilder("losetup", "-a").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "losetup -a did not end");
        return out;
    }

    @Test
    void aKilledNodesVolumeMovesToTheSurvivorThatCompletesTheJob() throws Exception {
        CloudStackDouble.requireLoopDevices();
        TestPeers.require("nbdkit", "nbdkit");
        Path dir = TestPeers.scratchDirectory("cs-failover-");
        Path src = ClusterDisks.randomFile(dir.resolve("src.img"), SIZE, 7);
        String sourceSum = DiskChecksum.ofFile(src);
        String volumeId;
        try (CloudStackDouble cloud = CloudStackDouble.start("api-key-1", "secret-cs-failover", dir.resolve("cloud"))) {
            cloud.addZone("zone-1");
            cloud.addDiskOffering("custom", true);
            List<Appliance> appliances = new ArrayList<>();
            for (int i = 0; i < NODES; i++) {
                Path dev = dir.resolve("dev" + (i + 1));
                String vm = cloud.addVm("appliance-" + (i + 1), "Running", dev);
                appliances.add(new Appliance(vm, dev, cloud.addForeignVolume("theirs-" + (i + 1), 1, vm)));
            }
            try (NbdkitServer source = ClusterDisks.slowSource(dir, src, "16M");
                 ClusterNodes cluster = ClusterNodes.start(dir, NODES, Map.of(),
                         i -> cloudSettings(cloud, appliances.get(i)))) {
                HttpResponse<String> accepted = cluster.post(0, "/api/v1/jobs", job(source.uri()));
                assertEquals(202, accepted.statusCode(), accepted.body());

                // copying into its volume on one node, past two checkpoints
                JsonNode started = cluster.await(JOB, j -> j.path("status").asText().equals("running")
                        && !j.path("disks").path(0).path("volume_id").asText().isEmpty()
                        && j.path("bytes_transferred").asLong() > 2 * CHECKPOINT, Duration.ofMinutes(2));
                String owner = started.path("node").asText();
                int victim = cluster.indexOf(owner);
                Appliance dead = appliances.get(victim);
                volumeId = started.path("disks").path(0).path("volume_id").asText();
                assertTrue(started.path("bytes_transferred").asLong() < SIZE - 2 * CHECKPOINT,
                        "still copying when killed: " + started);
                assertEquals(dead.vmId(), cloud.volume(volumeId).orElseThrow().virtualMachineId(),
                        "the volume is on the appliance of the node that copies: " + cloud.calls());

                long killedAt = System.nanoTime();
                cluster.node(victim).kill();
                ClusterDisks.release(src); // the survivor copies the rest fast

                JsonNode done = cluster.await(JOB, j -> j.path("status").asText().equals("completed")
                        || j.path("status").asText().equals("failed"), Duration.ofMinutes(4));
                double took = (System.nanoTime() - killedAt) / 1e9;
                System.out.printf("cloudstack failover: job %s %.1f s after SIGKILL of %s%n",
                        done.path("status").asText(), took, owner);
                String context = "\njob: " + done + "\ncalls: " + cloud.calls() + "\n" + cluster.logs();
                assertEquals("completed", done.path("status").asText(), "the job completes after the kill" + context);
                String survivorName = done.path("node").asText();
                assertNotEquals(owner, survivorName, "completed on another node" + context);
                Appliance survivor = appliances.get(cluster.indexOf(survivorName));
                JsonNode disk = done.path("disks").path(0);
                assertEquals(volumeId, disk.path("volume_id").asText(), "the same volume" + context);
                assertTrue(disk.path("resumes").asInt() >= 1, "resumed from its checkpoint: " + disk + context);
                assertTrue(disk.path("bytes_recopied").asLong() <= CHECKPOINT,
                        "at most one checkpoint interval copied again: " + disk + context);

                // the volume moved: the dead node's appliance lost it (verified detached), the survivor's has it
                Volume v = cloud.volume(volumeId).orElseThrow();
                assertEquals("bf-web01-d0", v.name());
                assertEquals(GIB, v.sizeBytes());
                assertEquals(survivor.vmId(), v.virtualMachineId(), "attached to the survivor's appliance" + context);
                List<CloudStackDouble.Call> expected = List.of(
                        new CloudStackDouble.Call("createVolume", volumeId, null, 0),
                        new CloudStackDouble.Call("attachVolume", volumeId, dead.vmId(), 0),
                        new CloudStackDouble.Call("detachVolume", volumeId, dead.vmId(), 0),
                        new CloudStackDouble.Call("attachVolume", volumeId, survivor.vmId(), 0));
                assertEquals(expected, cloud.calls(), "one volume created, attached to the node that copied it,"
                        + " detached from its appliance after the kill, attached to the survivor's; nothing else"
                        + context);
                assertTrue(links(survivor.deviceDir()).contains(serial(volumeId)), links(survivor.deviceDir())
                        .toString());
                assertFalse(links(dead.deviceDir()).contains(serial(volumeId)), links(dead.deviceDir()).toString());

                // no other volume touched: each appliance keeps its foreign volume, and only it and ours exist
                for (Appliance a : appliances) {
                    assertEquals(a.vmId(), cloud.volume(a.foreignVolume()).orElseThrow().virtualMachineId(),
                            "foreign volume " + a.foreignVolume() + " stays where it was");
                }
                assertEquals(NODES + 1, cloud.volumes().size(), cloud.volumes().toString());

                assertEquals(sourceSum, DiskChecksum.ofFile(cloud.volumeFile(volumeId), SIZE),
                        "the volume's bytes equal the source's" + context);
            }
        }
        String left = losetup();
        assertFalse(left.contains(dir.toAbsolutePath().toString()), "no loop device left over the double's volumes:\n" + left);
    }
}
