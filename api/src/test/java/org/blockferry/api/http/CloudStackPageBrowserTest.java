package org.blockferry.api.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.blockferry.api.node.TestDatabases;
import org.blockferry.engine.cloudstack.CloudStackDouble;
import org.blockferry.engine.cloudstack.Clouds;
import org.blockferry.engine.cloudstack.Volume;
import org.blockferry.nbd.testing.DiskChecksum;
import org.blockferry.nbd.testing.NbdkitServer;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The live page in a real headless Chromium against a serving node whose cloud is the CloudStack
 * API double (real loop devices behind attached volumes): a cloudstack-target job shows its
 * disk's provisioning step while the volume's attach is held, then the copy and the volume.
 */
@Timeout(value = 5, unit = java.util.concurrent.TimeUnit.MINUTES)
class CloudStackPageBrowserTest {
    private static final Path SCREENSHOTS = Path.of("target", "screenshots").toAbsolutePath();
    private static final long SIZE = 64L << 20;

    private Path dir;
    private CloudStackDouble cloud;
    private String appliance;

    @BeforeEach
    void startCloud() throws Exception {
        CloudStackDouble.requireLoopDevices();
        dir = TestPeers.scratchDirectory("web-cloud-");
        cloud = CloudStackDouble.start("page-api-key", "page-secret-key", dir.resolve("cloud"));
        cloud.addZone("zone-1");
        cloud.addDiskOffering("custom", true);
        appliance = cloud.addVm("appliance-1", "Running", dir.resolve("dev"));
    }

    @AfterEach
    void stopCloud() throws Exception {
        if (cloud != null) {
            cloud.close();
        }
    }

    @Test
    void theDiskShowsItsProvisioningStepLiveThenCopiesIntoTheVolumeItNames() throws Exception {
        cloud.asyncNeverEnds("attachVolume"); // the disk stays at "attaching volume …" until released
        // read at 64 MiB/s: the copy lasts some seconds, long enough to be seen
        try (NbdkitServer source = NbdkitServer.start(dir, "--filter=rate", "sparse-random", "size=64M",
                "percent=50", "seed=21", "rate=64M");
             ApiFixture api = ApiFixture.start(dir, TestDatabases.Kind.H2, null, clouds());
             HeadlessChromium browser = HeadlessChromium.start(dir)) {
            openWithToken(browser, api);
            browser.await("the empty job list", Duration.ofSeconds(20), () -> browser.visible("#no-jobs"));
            // the form has no target kind: a cloudstack job comes through the API, as a script's would
            assertEquals(202, api.postJson("/api/v1/jobs", "{\"job_id\": \"web-cloud\", \"vm\": \"web 01\","
                    + " \"disks\": [{\"id\": \"d0\", \"source\": \"" + source.uri() + "\"}],"
                    + " \"target\": {\"kind\": \"cloudstack\", \"cloud\": \"c1\"}}").statusCode());

            String disk = card("web-cloud") + " .disk[data-disk-id=d0]";
            String step = disk + " .disk-provisioning";
            browser.await("the disk's attaching step", Duration.ofSeconds(60), () -> browser.visible(step)
                    && browser.text(step).startsWith("attaching volume "));
            Volume pending = onlyVolume();
            String volumeId = pending.id();
            assertEquals(null, pending.virtualMachineId(), "the attach is still held by the double: " + pending);
            // held: the page stays at this step, from the job's event stream
            assertEquals("attaching volume " + volumeId + " to appliance " + appliance, browser.text(step));
            assertEquals("provisioning", browser.text(disk + " .disk-status"));
            assertEquals("running", browser.text(card("web-cloud") + " .job-status"));
            assertTrue(browser.script("return document.querySelector(arguments[0]).classList.contains('live');",
                    card("web-cloud")).asBoolean(), "the card follows the job's event stream");
            assertTrue(browser.text(disk + " .disk-path").endsWith(" → cloudstack://c1/bf-web_01-d0"),
                    browser.text(disk + " .disk-path"));
            assertEquals("volume " + volumeId, browser.text(disk + " .disk-volume"));
            assertEquals("", browser.text(disk + " .disk-bytes"), "no figures before anything is planned");
            JsonNode held = ApiFixture.json(api.get("/api/v1/jobs/web-cloud")).path("disks").get(0);
            assertEquals("provisioning", held.path("status").asText(), held.toString());
            browser.screenshot(SCREENSHOTS.resolve("cloudstack-provisioning.png"));

            cloud.asyncEndsAgain("attachVolume");
            List<String> seen = watchDiskUntilFinal(browser, disk);
            JsonNode doc = api.awaitFinal("web-cloud", Duration.ofMinutes(1));
            assertEquals("completed", doc.path("status").asText(), doc.toString());
            String documented = doc.path("disks").get(0).path("volume_id").asText();
            assertEquals(volumeId, documented, "the job document names the volume the double made");
            assertTrue(seen.contains("copying | hidden"), "the copy was seen with the step hidden: " + seen);
            assertEquals("completed | hidden", seen.get(seen.size() - 1), "ends completed, step hidden: " + seen);
            assertTrue(seen.stream().noneMatch(s -> !s.startsWith("provisioning") && !s.endsWith("hidden")),
                    "the step shows only while provisioning: " + seen);
            assertEquals(source.uri() + " → cloudstack://c1/bf-web_01-d0", browser.text(disk + " .disk-path"));
            assertEquals("volume " + documented, browser.text(disk + " .disk-volume"));
            assertFalse(browser.visible(step), "no step once completed");
            assertEquals("completed", browser.text(card("web-cloud") + " .job-status"));
            assertEquals(DiskChecksum.ofUri(source.uri()), DiskChecksum.ofFile(cloud.volumeFile(documented), SIZE),
                    "the volume holds the source's bytes");
        }
    }

    // ---- helpers ----

    /** Cloud {@code c1}: the double, its zone and offering, the appliance and its device dir. */
    private Map<String, Object> clouds() {
        Map<String, Object> m = new HashMap<>(CloudStackDouble.nodeConfig(cloud.cloud("c1", "zone-1", "custom",
                appliance, dir.resolve("dev"))));
        m.put(Clouds.KEY + ".c1.async-timeout", "120s"); // longer than the page's checks while the attach is held
        return m;
    }

    private Volume onlyVolume() {
        List<Volume> volumes = cloud.volumes();
        assertEquals(1, volumes.size(), volumes.toString());
        return volumes.get(0);
    }

    /**
     * Samples the disk every 50 ms until its status is final: the distinct "status | step" pairs
     * in order, the step being "hidden" or its text.
     */
    private static List<String> watchDiskUntilFinal(HeadlessChromium browser, String disk) throws Exception {
        Set<String> seen = new LinkedHashSet<>();
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (System.nanoTime() < deadline) {
            JsonNode s = browser.script("const d = document.querySelector(arguments[0]);"
                    + " const p = d.querySelector('.disk-provisioning');"
                    + " const shown = !p.hidden && p.getClientRects().length > 0;"
                    + " return [d.querySelector('.disk-status').textContent, shown ? p.textContent : 'hidden'];",
                    disk);
            String status = s.get(0).asText();
            seen.add(status + " | " + s.get(1).asText());
            if (status.equals("completed") || status.equals("failed") || status.equals("cancelled")) {
                return new ArrayList<>(seen);
            }
            Thread.sleep(50);
        }
        throw new AssertionError("the disk did not finish on the page within 2 minutes: " + seen + "; page:\n"
                + browser.text("body"));
    }

    /** Opens the page with the fixture's token in the browser's storage, as an operator who entered it once. */
    private static void openWithToken(HeadlessChromium browser, ApiFixture api) {
        browser.open(api.url("/"));
        browser.script("localStorage.setItem('blockferry.token', arguments[0]); return null;", api.token);
        browser.open(api.url("/"));
    }

    private static String card(String jobId) {
        return "[data-job-id=\"" + jobId + "\"]";
    }
}
