package org.blockferry.engine.cloudstack;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;
import org.blockferry.engine.cloudstack.CloudStackDouble.Call;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class CloudStackApiTest {
    private static final String API_KEY = "API-CANARY-3b8f0e";
    private static final String SECRET = "SECRET-CANARY-51c2a7";
    private static final long GIB = 1L << 30;

    private Path work;
    private Path devDir;
    private CloudStackDouble cs;
    private String zone;
    private String custom;
    private String fixed;
    private String appliance;
    private CloudStackApi api;

    @BeforeAll
    static void loopDevices() {
        CloudStackDouble.requireLoopDevices();
    }

    @BeforeEach
    void start() throws IOException {
        work = Path.of("target", "cs-double-" + UUID.randomUUID().toString().substring(0, 8)).toAbsolutePath();
        devDir = work.resolve("dev");
        cs = CloudStackDouble.start(API_KEY, SECRET, work);
        zone = cs.addZone("zone1");
        custom = cs.addDiskOffering("Custom", true);
        fixed = cs.addFixedDiskOffering("Small", 2);
        appliance = cs.addVm("blockferry-1", "Running", devDir);
        api = CloudStackApi.open(cs.cloud("cs1", "zone1", "Custom", appliance, devDir));
    }

    @AfterEach
    void stop() throws Exception {
        cs.close();
        Process p = new ProcessBuilder("losetup", "-a").redirectErrorStream(true).start();
        String loops = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor();
        assertFalse(loops.contains(work.toString()), "the double left loop devices: " + loops);
    }

    private Volume newVolume(long gib) throws IOException {
        return api.createVolume("bf-disk", api.zoneId(), api.diskOfferingId(null), gib);
    }

    @Test
    void anAttachedVolumeIsABlockDeviceOfItsSizeAndGoesAwayOnDetach() throws IOException {
        Volume v = newVolume(3);
        assertEquals("Allocated", v.state());
        assertEquals(3 * GIB, v.sizeBytes());
        assertNull(v.virtualMachineId());

        Volume attached = api.attachVolume(v.id(), appliance);
        assertEquals("Ready", attached.state());
        assertTrue(attached.attachedTo(appliance));
        assertEquals(1, attached.deviceId());
        assertEquals("DATADISK", attached.type());
        Path device = VolumeDevices.await(devDir, v.id(), Duration.ofSeconds(10));
        assertTrue(device.toString().startsWith("/dev/loop"), device.toString());
        assertTrue(VolumeDevices.isBlockDevice(device));
        assertEquals(3 * GIB, 512 * Long.parseLong(Files.readString(Path.of("/sys/class/block",
                device.toRealPath().getFileName().toString(), "size")).strip()), "the device's size (sectors)");
        assertEquals(Optional.of(attached), api.volume(v.id()));

        byte[] data = "written through the device".getBytes(StandardCharsets.UTF_8);
        try (FileChannel ch = FileChannel.open(device, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(data), GIB + 512);
            ch.force(true);
        }
        Volume detached = api.detachVolume(v.id());
        assertNull(detached.virtualMachineId());
        assertNull(detached.deviceId());
        for (Path p : VolumeDevices.candidates(devDir, v.id())) {
            assertFalse(Files.exists(p, LinkOption.NOFOLLOW_LINKS), p + " is still there");
        }
        assertArrayEquals(data, read(cs.volumeFile(v.id()), GIB + 512, data.length), "the bytes are the volume's");

        api.attachVolume(v.id(), appliance);
        Path again = VolumeDevices.await(devDir, v.id(), Duration.ofSeconds(10));
        assertArrayEquals(data, read(again, GIB + 512, data.length), "a volume keeps its bytes across attachments");
        api.detachVolume(v.id());

        api.deleteVolume(v.id());
        assertEquals(Optional.empty(), api.volume(v.id()));
        assertEquals(List.of(new Call("createVolume", v.id(), null, 0), new Call("attachVolume", v.id(), appliance, 0),
                new Call("detachVolume", v.id(), appliance, 0), new Call("attachVolume", v.id(), appliance, 0),
                new Call("detachVolume", v.id(), appliance, 0), new Call("deleteVolume", v.id(), null, 0)), cs.calls());
    }

    private static byte[] read(Path p, long offset, int length) throws IOException {
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(length);
            ch.read(b, offset);
            return b.array();
        }
    }

    @Test
    void asyncJobsArePolledUntilTheyEnd() throws IOException {
        cs.pendingPolls(3);
        newVolume(1);
        assertEquals(4, cs.requests("queryAsyncJobResult"));
    }

    @Test
    void aParameterErrorIsNotRetried() {
        cs.failNext("createVolume", 431, "Invalid size");
        CloudStackException e = assertThrows(CloudStackException.class, () -> newVolume(1));
        assertEquals(431, e.errorCode());
        assertEquals("createVolume", e.command());
        assertEquals("Invalid size", e.errorText());
        assertFalse(e.retryable());
        assertEquals("CloudStack createVolume failed: 431 Invalid size", e.getMessage());
        assertEquals(List.of(new Call("createVolume", null, null, 431)), cs.calls());
    }

    @Test
    void anInternalErrorIsRetriedUntilItPasses() throws IOException {
        cs.failNext("createVolume", 530, "database busy");
        cs.failNext("listZones", 429, "too many requests");
        Volume v = newVolume(1);
        assertEquals(List.of(new Call("createVolume", null, null, 530), new Call("createVolume", v.id(), null, 0)),
                cs.calls());
        assertEquals(2, cs.requests("listZones"));
        assertEquals(1, cs.volumes().size());
    }

    @Test
    void aFailedJobThrowsItsCodeAndText() throws IOException {
        Volume v = newVolume(1);
        cs.failNextAsync("attachVolume", 533, "Insufficient capacity");
        CloudStackException e = assertThrows(CloudStackException.class, () -> api.attachVolume(v.id(), appliance));
        assertEquals(533, e.errorCode());
        assertEquals("Insufficient capacity", e.errorText());
        assertEquals("CloudStack attachVolume failed: 533 Insufficient capacity", e.getMessage());
        assertEquals(Optional.of("Allocated"), api.volume(v.id()).map(Volume::state), "the failed job did nothing");
        assertEquals(1, cs.calls().stream().filter(c -> c.command().equals("attachVolume")).count());
    }

    @Test
    void attachRefusalsComeFromTheJobAsParameterErrors() throws IOException {
        Volume a = newVolume(1);
        Volume b = newVolume(1);
        String other = cs.addVm("other", "Running", null);
        api.attachVolume(a.id(), appliance);
        CloudStackException elsewhere = assertThrows(CloudStackException.class, () -> api.attachVolume(a.id(), other));
        assertEquals(431, elsewhere.errorCode());
        cs.dataDiskLimit(1);
        CloudStackException full = assertThrows(CloudStackException.class, () -> api.attachVolume(b.id(), appliance));
        assertEquals(431, full.errorCode());
        assertTrue(full.errorText().contains("maximum number of data disks (1)"), full.errorText());
        cs.vmState(other, "Starting");
        assertEquals(431, assertThrows(CloudStackException.class, () -> api.attachVolume(b.id(), other)).errorCode());
        CloudStackException attached = assertThrows(CloudStackException.class, () -> api.deleteVolume(a.id()));
        assertEquals(431, attached.errorCode());
        api.detachVolume(a.id());
        api.deleteVolume(a.id());
    }

    @Test
    void aJobStillPendingAfterTheAsyncTimeoutIsRetryable() throws IOException {
        Cloud c = cs.cloud("cs1", zone, custom, appliance, devDir);
        CloudStackApi impatient = CloudStackApi.open(new Cloud(c.name(), c.url(), c.apiKeyFile(), c.secretKeyFile(),
                c.zone(), c.diskOffering(), c.applianceVmId(), c.deviceDir(), Duration.ofMillis(800), c.deviceTimeout(),
                3));
        cs.asyncNeverEnds("createVolume");
        CloudStackException e = assertThrows(CloudStackException.class,
                () -> impatient.createVolume("bf", zone, custom, 1));
        assertTrue(e.retryable());
        assertTrue(e.getMessage().contains("still pending after PT0.8S"), e.getMessage());
    }

    @Test
    void aWrongSecretIsAnAuthenticationErrorThatNamesNoKey() throws IOException {
        Path wrong = Files.writeString(work.resolve("wrong-secret"), "WRONG-CANARY-e40d\n");
        Cloud c = cs.cloud("cs1", zone, custom, appliance, devDir);
        CloudStackApi bad = CloudStackApi.open(new Cloud(c.name(), c.url(), c.apiKeyFile(), wrong, c.zone(),
                c.diskOffering(), c.applianceVmId(), c.deviceDir(), c.asyncTimeout(), c.deviceTimeout(), 3));
        CloudStackException e = assertThrows(CloudStackException.class, () -> bad.createVolume("bf", zone, custom, 1));
        assertEquals(401, e.errorCode());
        assertFalse(e.retryable());
        assertEquals(1, cs.authFailures(), "not retried");
        assertTrue(cs.calls().isEmpty());
        CloudStackException unreachable = assertThrows(CloudStackException.class,
                () -> CloudStackApi.open(new Cloud(c.name(), URI.create("http://127.0.0.1:9/client/api"),
                        c.apiKeyFile(), c.secretKeyFile(), c.zone(), c.diskOffering(), c.applianceVmId(), c.deviceDir(),
                        c.asyncTimeout(), c.deviceTimeout(), 2), Duration.ofMillis(10)).vmState(appliance));
        assertTrue(unreachable.retryable());
        assertEquals(0, unreachable.errorCode());
        assertTrue(unreachable.getMessage().startsWith("CloudStack listVirtualMachines failed: no reply from"
                + " CloudStack cloud cs1 (http://127.0.0.1:9/client/api)"), unreachable.getMessage());
        for (Throwable t : List.of(e, unreachable)) {
            for (Throwable x = t; x != null; x = x.getCause()) {
                String shown = x.toString();
                for (String secret : List.of(SECRET, API_KEY, "WRONG-CANARY-e40d", "signature=", "apikey=")) {
                    assertFalse(shown.contains(secret), "'" + secret + "' shown in " + shown);
                }
            }
        }
        assertFalse(bad.toString().contains("CANARY"), bad.toString());
    }

    @Test
    void zonesAndOfferingsResolveByNameOrId() throws IOException {
        assertEquals(zone, api.zoneId());
        assertEquals(custom, api.diskOfferingId(null));
        assertEquals(fixed, api.diskOfferingId("Small"));
        assertEquals(fixed, api.diskOfferingId(fixed));
        assertTrue(api.customizedOffering(custom));
        assertFalse(api.customizedOffering(fixed));
        String byId = cs.addZone("zone2");
        Cloud c = cs.cloud("cs1", byId, custom, appliance, devDir);
        int before = cs.requests("listZones");
        assertEquals(byId, CloudStackApi.open(c).zoneId());
        assertEquals(before, cs.requests("listZones"), "a UUID is used as is");

        CloudStackException none = assertThrows(CloudStackException.class, () -> api.diskOfferingId("Large"));
        assertTrue(none.getMessage().contains("no disk offering is named 'Large'"), none.getMessage());
        assertFalse(none.retryable());
        cs.addZone("twin");
        cs.addZone("twin");
        CloudStackException twins = assertThrows(CloudStackException.class,
                () -> CloudStackApi.open(cs.cloud("cs1", "twin", custom, appliance, devDir)).zoneId());
        assertTrue(twins.getMessage().contains("2 zones are named 'twin'"), twins.getMessage());
        assertTrue(twins.getMessage().contains(Clouds.KEY + ".cs1.zone"), twins.getMessage());
    }

    @Test
    void aFixedOfferingMakesItsOwnSize() throws IOException {
        Volume v = api.createVolume("bf-fixed", zone, fixed, 5);
        assertEquals(2 * GIB, v.sizeBytes(), "no size is sent for an offering that is not customized");
    }

    @Test
    void aVolumeThatIsGoneIsEmpty() throws IOException {
        assertEquals(Optional.empty(), api.volume(UUID.randomUUID().toString()));
        String foreign = cs.addForeignVolume("someone-elses", 1, appliance);
        assertEquals(appliance, api.volume(foreign).orElseThrow().virtualMachineId());
        assertEquals(List.of(), cs.calls(), "a foreign volume is not BlockFerry's call");
        assertEquals(List.of(foreign), api.volumesOf(appliance).stream().map(Volume::id).toList());
        assertEquals(List.of(foreign), api.volumesNamed("someone-elses").stream().map(Volume::id).toList());
        cs.detachByHand(foreign);
        String theirs = cs.addVm("their-vm", "Stopped", null);
        cs.attachByHand(foreign, theirs);
        assertEquals(theirs, api.volume(foreign).orElseThrow().virtualMachineId());
        assertThrows(IllegalStateException.class, () -> cs.attachByHand(foreign, appliance));
        assertEquals(List.of(), cs.calls(), "what an operator does by hand is not BlockFerry's call");
    }

    @Test
    void instancesAreDeployedStoppedAndStarted() throws IOException {
        String template = cs.addTemplate("converted", 8);
        JsonNode vm = api.callAsync("deployVirtualMachine", Map.of("serviceofferingid", UUID.randomUUID().toString(),
                "templateid", template, "zoneid", zone, "name", "web01", "startvm", "false")).path("virtualmachine");
        String id = vm.path("id").asText();
        assertEquals("Stopped", api.vmState(id));
        List<Volume> disks = api.volumesOf(id);
        assertEquals(1, disks.size());
        assertEquals("ROOT", disks.get(0).type());
        assertEquals(8 * GIB, disks.get(0).sizeBytes());
        Volume data = newVolume(1);
        assertEquals(1, api.attachVolume(data.id(), id).deviceId());
        api.callAsync("startVirtualMachine", Map.of("id", id));
        assertEquals("Running", api.vmState(id));
    }

    @Test
    void signatureVersion2AndGetRequestsWork() throws Exception {
        Cloud c = cs.cloud("cs1", zone, custom, appliance, devDir);
        CloudStackApi v2 = CloudStackApi.open(new Cloud(c.name(), c.url(), c.apiKeyFile(), c.secretKeyFile(), c.zone(),
                c.diskOffering(), c.applianceVmId(), c.deviceDir(), c.asyncTimeout(), c.deviceTimeout(), 2));
        assertEquals("Running", v2.vmState(appliance));

        RequestSigner signer = new RequestSigner(API_KEY, SECRET, 3);
        assertEquals(200, get(signer, signer.parameters("listZones", Map.of(), Instant.now())));
        Map<String, String> expired = new TreeMap<>(signer.parameters("listZones", Map.of(), Instant.now()));
        expired.put("expires", RequestSigner.EXPIRES.format(Instant.now().minusSeconds(5)));
        assertEquals(401, get(signer, expired));
        Map<String, String> far = new TreeMap<>(expired);
        far.put("expires", RequestSigner.EXPIRES.format(Instant.now().plus(Duration.ofMinutes(20))));
        assertEquals(401, get(signer, far));
        assertEquals(401, get(new RequestSigner("someone", SECRET, 2), new RequestSigner("someone", SECRET, 2)
                .parameters("listZones", Map.of(), Instant.now())));
    }

    private int get(RequestSigner signer, Map<String, String> params) throws Exception {
        HttpResponse<String> res = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create(cs.url() + "?" + signer.form(params))).GET().build(), HttpResponse.BodyHandlers.ofString());
        if (res.statusCode() == 401) {
            assertTrue(res.body().contains("\"listzonesresponse\"") && res.body().contains("\"errorcode\":401"),
                    res.body());
        }
        return res.statusCode();
    }
}
