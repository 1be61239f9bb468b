package org.blockferry.api.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.blockferry.api.cli.CliRunner;
import org.blockferry.api.node.TestDatabases;
import org.blockferry.nbd.testing.DiskChecksum;
import org.blockferry.nbd.testing.NbdkitServer;
import org.blockferry.nbd.testing.TestPeers;
import org.blockferry.persistence.PersistenceSettings;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The live page in a real headless Chromium against a real node: a job submitted through the
 * form copies between real nbdkit peers while its bars move from the event stream.
 */
@Timeout(value = 5, unit = java.util.concurrent.TimeUnit.MINUTES)
class WebPageBrowserTest {
    private static final Path SCREENSHOTS = Path.of("target", "screenshots").toAbsolutePath();
    private static final String TOKEN = "web-page-test-token-0123456789";

    @Test
    void jobsSubmittedThroughThePageShowLiveProgressAndCompleteWithTheTargetsEqualToTheSources() throws Exception {
        Path dir = TestPeers.scratchDirectory("web-");
        try (NbdkitServer source = NbdkitServer.start(dir, "sparse-random", "size=512M", "percent=50", "seed=1");
             NbdkitServer source2 = NbdkitServer.start(dir, "sparse-random", "size=256M", "percent=70", "seed=3");
             NbdkitServer target = slowTarget(dir);
             NbdkitServer target2 = slowTarget(dir);
             NbdkitServer target3 = slowTarget(dir, "256M");
             ApiFixture api = ApiFixture.start(dir, TestDatabases.Kind.H2, null, Map.of());
             HeadlessChromium browser = HeadlessChromium.start(dir)) {
            openWithToken(browser, api);
            browser.await("the empty job list", Duration.ofSeconds(20), () -> browser.visible("#no-jobs"));

            fillForm(browser, "web-job-1", "web-vm-1", source.uri(), target.uri());
            browser.click("#mode option[value=full]");
            browser.click("#submit");

            String job1 = card("web-job-1");
            assertProgressed(watchUntilFinal(browser, "web-job-1", null));
            assertEquals(100.0, percent(browser, job1 + " .disk[data-disk-id=disk0] .disk-bar"));
            assertEquals("completed", browser.text(job1 + " .disk[data-disk-id=disk0] .disk-status"));
            assertTrue(browser.text(job1 + " .job-bytes").matches("2\\d\\d(\\.\\d+)? MiB of 2\\d\\d(\\.\\d+)? MiB"),
                    "bytes done and total in MiB: " + browser.text(job1 + " .job-bytes"));
            assertEquals("web-vm-1", browser.text(job1 + " .job-vm"));
            assertTrue(browser.text(job1 + " .disk-path").contains(source.uri()));
            assertEquals("full", api.awaitFinal("web-job-1", Duration.ofSeconds(30)).path("mode").asText());
            assertEquals(DiskChecksum.ofUri(source.uri()), DiskChecksum.ofUri(target.uri()),
                    "the target holds the source's bytes");

            // a second job with two disks: the add-disk button, two disk bars, newest first
            browser.click("#add-disk");
            browser.click("#add-disk");
            assertEquals(3, browser.script("return document.querySelectorAll('.disk-row').length;").asInt());
            browser.click(".disk-row:nth-child(3) .remove-disk");
            assertEquals(2, browser.script("return document.querySelectorAll('.disk-row').length;").asInt());
            fillForm(browser, "web-job-2", "web-vm-2", source.uri(), target2.uri());
            assertEquals("disk1", browser.script(
                    "return document.querySelector('.disk-row:nth-child(2) input[name=id]').value;").asText());
            browser.type(".disk-row:nth-child(2) input[name=source]", source2.uri());
            browser.type(".disk-row:nth-child(2) input[name=target]", target3.uri());
            browser.click("#submit");
            assertProgressed(watchUntilFinal(browser, "web-job-2", SCREENSHOTS.resolve("web-page.png")));
            for (String disk : List.of("disk0", "disk1")) {
                assertEquals(100.0, percent(browser, card("web-job-2") + " .disk[data-disk-id=" + disk + "] .disk-bar"));
            }
            assertEquals(List.of("web-job-2", "web-job-1"), jobOrder(browser), "newest first");
            assertEquals(DiskChecksum.ofUri(source.uri()), DiskChecksum.ofUri(target2.uri()));
            assertEquals(DiskChecksum.ofUri(source2.uri()), DiskChecksum.ofUri(target3.uri()));

            // the list refresh (read side) must not undo the final figures the streams showed
            Thread.sleep(5_500);
            assertEquals(List.of("web-job-2", "web-job-1"), jobOrder(browser), "newest first after a refresh");
            assertEquals(100.0, percent(browser, job1 + " .job-bar"));
            assertEquals(100.0, percent(browser, card("web-job-2") + " .job-bar"));
            browser.screenshot(SCREENSHOTS.resolve("web-page-final.png"));
        }
    }

    @Test
    void aCancelledTwoDiskJobShowsItsUnfinishedDiskCancelledInEveryView() throws Exception {
        Path dir = TestPeers.scratchDirectory("web-cancel-");
        Path database = dir.resolve("blockferry-db");
        try (NbdkitServer small = NbdkitServer.start(dir, "sparse-random", "size=16M", "percent=50", "seed=5");
             NbdkitServer smallTarget = NbdkitServer.start(dir, "memory", "size=16M");
             NbdkitServer big = NbdkitServer.start(dir, "sparse-random", "size=512M", "percent=100", "seed=6");
             // slow enough that the page is open and its cancel clicked long before the disk is done
             NbdkitServer bigTarget = NbdkitServer.start(dir, "--filter=delay", "memory", "size=512M", "wdelay=50ms");
             ApiFixture api = ApiFixture.start(dir, PersistenceSettings.h2(database, 4), null, Map.of());
             HeadlessChromium browser = HeadlessChromium.start(dir)) {
            String spec = "{\"job_id\": \"two-disks\", \"vm\": \"web02\", \"disks\": ["
                    + "{\"id\": \"small\", \"source\": \"" + small.uri() + "\", \"target\": \"" + smallTarget.uri()
                    + "\"}, {\"id\": \"big\", \"source\": \"" + big.uri() + "\", \"target\": \"" + bigTarget.uri()
                    + "\"}]}";
            assertEquals(202, api.postJson("/api/v1/jobs", spec).statusCode());
            SseClient.read(api.client, api.request("/api/v1/jobs/two-disks/events").build(),
                    e -> "progress".equals(e.event()) && "completed".equals(e.data().path("disks").get(0)
                            .path("status").asText()) && e.data().path("disks").get(1).path("bytes_transferred")
                            .asLong() > 0, Duration.ofMinutes(2));
            // cancelled on the page: its request is JSON, as the server requires of every state change
            openWithToken(browser, api);
            String cancel = card("two-disks") + " .job-cancel";
            browser.await("the job's cancel button", Duration.ofSeconds(20), () -> browser.visible(cancel));
            browser.click(cancel);

            JsonNode doc = api.awaitFinal("two-disks", Duration.ofMinutes(1));
            assertEquals("cancelled", doc.path("status").asText());
            assertEquals(List.of("completed", "cancelled"), List.of(doc.path("disks").get(0).path("status").asText(),
                    doc.path("disks").get(1).path("status").asText()), "GET: " + doc);
            assertEquals(DiskChecksum.ofUri(small.uri()), DiskChecksum.ofUri(smallTarget.uri()),
                    "the disk that completed holds its source's bytes");

            SseClient.Seen stream = SseClient.read(api.client, api.request("/api/v1/jobs/two-disks/events").build(),
                    e -> false, Duration.ofSeconds(30));
            JsonNode last = stream.named("progress").get(stream.named("progress").size() - 1).data();
            assertEquals("cancelled", last.path("disks").get(1).path("status").asText(), "SSE: " + last);
            assertEquals(doc.path("disks"), last.path("disks"), "the stream shows the document GET shows");

            System.setProperty("blockferry.persistence.h2.file", database.toString());
            ConfigFactory.invalidateCaches();
            try {
                CliRunner.Run show = CliRunner.run("job", "two-disks");
                assertEquals(0, show.code(), show.err());
                assertTrue(show.out().lines().anyMatch(l -> l.matches("\\s*disk big\\s+cancelled\\s.*")),
                        "blockferry job: " + show.out());
            } finally {
                System.clearProperty("blockferry.persistence.h2.file");
                ConfigFactory.invalidateCaches();
            }

            browser.open(api.url("/"));
            String bigDisk = card("two-disks") + " .disk[data-disk-id=big] .disk-status";
            browser.await("the cancelled disk on the page", Duration.ofSeconds(20),
                    () -> browser.visible(bigDisk) && "cancelled".equals(browser.text(bigDisk)));
            assertEquals("completed", browser.text(card("two-disks") + " .disk[data-disk-id=small] .disk-status"));
            assertEquals("cancelled", browser.text(card("two-disks") + " .job-status"));
        }
    }

    /**
     * The job list (the read side) may show a job ended before its event stream does; the page then
     * closes the stream, and the disks' final figures, which a list row does not carry, come from
     * the job's detail. Here the page has no event stream at all, so the list is always first.
     */
    @Test
    void aJobTheListShowsEndedBeforeItsStreamDoesShowsItsDisksFinalFigures() throws Exception {
        Path dir = TestPeers.scratchDirectory("web-");
        try (NbdkitServer source = NbdkitServer.start(dir, "sparse-random", "size=256M", "percent=50", "seed=4");
             NbdkitServer target = slowTarget(dir, "256M");
             ApiFixture api = ApiFixture.start(dir, TestDatabases.Kind.H2, null, Map.of());
             HeadlessChromium browser = HeadlessChromium.start(dir)) {
            openWithToken(browser, api);
            browser.await("the empty job list", Duration.ofSeconds(20), () -> browser.visible("#no-jobs"));
            browser.script("window.EventSource = undefined; return null;");

            fillForm(browser, "web-job-list-first", "web-vm-list", source.uri(), target.uri());
            browser.click("#submit");
            String disk = card("web-job-list-first") + " .disk[data-disk-id=disk0]";
            browser.await("the job's card with its disk", Duration.ofSeconds(20), () -> browser.visible(disk));
            assertEquals("completed", api.awaitFinal("web-job-list-first", Duration.ofSeconds(60)).path("status")
                    .asText());
            browser.await("the ended job on the list", Duration.ofSeconds(20),
                    () -> "completed".equals(browser.text(card("web-job-list-first") + " .job-status")));
            browser.await("the disk's final figures", Duration.ofSeconds(10),
                    () -> "completed".equals(browser.text(disk + " .disk-status")));
            assertEquals(100.0, percent(browser, disk + " .disk-bar"));
            assertEquals(DiskChecksum.ofUri(source.uri()), DiskChecksum.ofUri(target.uri()));
        }
    }

    @Test
    void withATokenTheListAndTheEventStreamAuthenticateAndTheTokenIsRemembered() throws Exception {
        Path dir = TestPeers.scratchDirectory("web-");
        try (NbdkitServer source = NbdkitServer.start(dir, "sparse-random", "size=512M", "percent=50", "seed=2");
             NbdkitServer target = slowTarget(dir);
             ApiFixture api = ApiFixture.start(dir, TestDatabases.Kind.H2, TOKEN, Map.of());
             HeadlessChromium browser = HeadlessChromium.start(dir)) {
            browser.open(api.url("/"));
            browser.await("that the list needs a token", Duration.ofSeconds(20), () -> browser.visible("#jobs-error")
                    && browser.text("#jobs-error").contains("a bearer token is required"));

            browser.type("#token", TOKEN);
            browser.await("the job list once the token is set", Duration.ofSeconds(20),
                    () -> !browser.visible("#jobs-error") && browser.visible("#no-jobs"));

            fillForm(browser, "web-job-token", "web-vm-token", source.uri(), target.uri());
            browser.click("#submit");
            List<Double> seen = watchUntilFinal(browser, "web-job-token", null);
            assertProgressed(seen);
            assertEquals("completed", browser.text(card("web-job-token") + " .job-status"));
            assertEquals(DiskChecksum.ofUri(source.uri()), DiskChecksum.ofUri(target.uri()));

            browser.open(api.url("/"));
            browser.await("the finished job after a reload, with the stored token", Duration.ofSeconds(20),
                    () -> "completed".equals(browser.text(card("web-job-token") + " .job-status")));
            assertEquals(TOKEN, browser.script("return document.getElementById('token').value;").asText());
            assertEquals(100.0, percent(browser, card("web-job-token") + " .job-bar"));
        }
    }

    @Test
    void aBadSubmissionShowsTheApiMessageAndMarksTheField() throws Exception {
        Path dir = TestPeers.scratchDirectory("web-");
        try (ApiFixture api = ApiFixture.start(dir, TestDatabases.Kind.H2, null, Map.of());
             HeadlessChromium browser = HeadlessChromium.start(dir)) {
            openWithToken(browser, api);
            browser.await("the empty job list", Duration.ofSeconds(20), () -> browser.visible("#no-jobs"));

            fillForm(browser, "web-bad", "web-vm-bad", "ftp://example.org/disk.img", "nbd://127.0.0.1:1/target");
            browser.click("#submit");
            browser.await("the API's error", Duration.ofSeconds(20), () -> browser.visible("#submit-error"));
            String message = browser.text("#submit-error");
            assertTrue(message.contains("disks[0].source") && message.contains("unsupported URI scheme 'ftp://'"),
                    message);
            assertEquals("disks[0].source", browser.script(
                    "return document.getElementById('submit-error').dataset.field;").asText());
            assertTrue(browser.script("return document.querySelector('.disk-row input[name=source]')"
                    + ".classList.contains('invalid');").asBoolean(), "the source input is marked");
            assertFalse(browser.visible(card("web-bad")), "no job card for a rejected job");
            assertEquals(404, api.get("/api/v1/jobs/web-bad").statusCode());

            browser.type("#vm", " ");
            browser.type(".disk-row input[name=source]", "nbd://127.0.0.1:1/source");
            browser.click("#submit");
            browser.await("the VM's error", Duration.ofSeconds(20),
                    () -> browser.text("#submit-error").startsWith("vm: is required"));
            assertTrue(browser.script("return document.activeElement.id;").asText().equals("vm"),
                    "the VM field has the focus");
        }
    }

    @Test
    void theNodesPanelShowsThisNodeUpWithTheJobItRunsAndTheJobSaysWhereItRuns() throws Exception {
        Path dir = TestPeers.scratchDirectory("web-nodes-");
        // read at 4 MiB/s: the job runs for half a minute, far longer than the page needs
        try (NbdkitServer source = NbdkitServer.start(dir, "--filter=rate", "sparse-random", "size=128M",
                "percent=100", "seed=8", "rate=4M");
             NbdkitServer target = NbdkitServer.start(dir, "memory", "size=128M");
             ApiFixture api = ApiFixture.start(dir, TestDatabases.Kind.H2, null, Map.of());
             HeadlessChromium browser = HeadlessChromium.start(dir)) {
            openWithToken(browser, api);
            String self = ApiFixture.json(api.get("/api/v1/cluster")).path("self").asText();
            String node = "#node-list tr[data-node=\"" + self + "\"]";
            browser.await("this node, up, in the Nodes panel", Duration.ofSeconds(20),
                    () -> browser.visible(node) && "up".equals(browser.text(node + " .node-status")));
            assertEquals(List.of("yes", "0", "0"), List.of(browser.text(node + " .node-reachable"),
                    browser.text(node + " .node-jobs"), browser.text(node + " .node-disks")));
            assertTrue(browser.visible(node + " .node-self") && browser.visible(node + " .node-leader"),
                    "marked as this node and the leader");
            assertEquals(1, browser.script("return document.querySelectorAll('#node-list tr').length;").asInt());
            assertEquals("0 jobs queued cluster-wide", browser.text("#waiting-jobs"));

            assertEquals(202, api.postJson("/api/v1/jobs", "{\"job_id\": \"web-node-job\", \"vm\": \"web-vm-node\","
                    + " \"disks\": [{\"id\": \"root\", \"source\": \"" + source.uri() + "\", \"target\": \""
                    + target.uri() + "\"}]}").statusCode());
            browser.await("the node's running job and copying disk in the Nodes panel", Duration.ofSeconds(30),
                    () -> "1".equals(browser.text(node + " .node-jobs")) && "1".equals(browser.text(node
                            + " .node-disks")));
            browser.await("the job's node in its row", Duration.ofSeconds(20),
                    () -> ("on " + self).equals(browser.text(card("web-node-job") + " .job-node")));
            assertEquals(202, api.cancel("web-node-job").statusCode());
            assertEquals("cancelled", api.awaitFinal("web-node-job", Duration.ofMinutes(1)).path("status").asText());
        }
    }

    // ---- helpers ----

    /** Opens the page with the fixture's token in the browser's storage, as an operator who entered it once. */
    private static void openWithToken(HeadlessChromium browser, ApiFixture api) {
        browser.open(api.url("/"));
        browser.script("localStorage.setItem('blockferry.token', arguments[0]); return null;", api.token);
        browser.open(api.url("/"));
    }

    /** A 512 MiB memory target whose writes are slowed so that a copy takes some seconds. */
    private static NbdkitServer slowTarget(Path dir) {
        return slowTarget(dir, "512M");
    }

    private static NbdkitServer slowTarget(Path dir, String size) {
        return NbdkitServer.start(dir, "--filter=delay", "memory", "size=" + size, "wdelay=5ms");
    }

    private static List<String> jobOrder(HeadlessChromium browser) {
        List<String> ids = new ArrayList<>();
        browser.script("return [...document.querySelectorAll('#job-list .job')].map(c => c.dataset.jobId);")
                .forEach(n -> ids.add(n.asText()));
        return ids;
    }

    private static String card(String jobId) {
        return "[data-job-id=\"" + jobId + "\"]";
    }

    private static void fillForm(HeadlessChromium browser, String jobId, String vm, String source, String target) {
        browser.type("#vm", vm);
        browser.type("#job-id", jobId);
        browser.type(".disk-row input[name=source]", source);
        browser.type(".disk-row input[name=target]", target);
    }

    private static double percent(HeadlessChromium browser, String css) {
        JsonNode v = browser.script("const e = document.querySelector(arguments[0]);"
                + " return e ? Number(e.dataset.percent) : null;", css);
        if (v.isNull()) {
            throw new AssertionError("no " + css + " on the page:\n" + browser.text("body"));
        }
        return v.asDouble();
    }

    /**
     * Samples the job's bar every 50 ms from its appearance until its status is final; returns
     * the distinct percents in order. While the card's stream is open the page shows only what
     * the stream says, so a value seen with the card "live" came from the events. The first
     * sample between 30 and 70 % is saved as a screenshot when {@code shot} is given.
     */
    private static List<Double> watchUntilFinal(HeadlessChromium browser, String jobId, Path shot)
            throws Exception {
        String job = card(jobId);
        browser.await("the job's card", Duration.ofSeconds(20), () -> browser.visible(job + " .job-bar"));
        List<Double> seen = new ArrayList<>();
        boolean liveMidway = false;
        long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
        while (System.nanoTime() < deadline) {
            JsonNode s = browser.script("const c = document.querySelector(arguments[0]);"
                    + " return [Number(c.querySelector('.job-bar').dataset.percent),"
                    + " c.querySelector('.job-status').textContent, c.classList.contains('live')];", job);
            double pct = s.get(0).asDouble();
            String status = s.get(1).asText();
            if (seen.isEmpty() || seen.get(seen.size() - 1) != pct) {
                seen.add(pct);
            }
            if (pct > 0 && pct < 100 && s.get(2).asBoolean()) {
                liveMidway = true;
            }
            if (shot != null && pct >= 30 && pct <= 70) {
                Thread.sleep(500); // let the bars' width transition settle
                browser.screenshot(shot);
                shot = null;
            }
            if (status.equals("completed") || status.equals("failed") || status.equals("cancelled")) {
                assertEquals("completed", status, "job error: " + browser.text(job + " .job-error"));
                assertTrue(liveMidway, "progress between 0 and 100 % arrived over the event stream: " + seen);
                return seen;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("job " + jobId + " did not finish on the page within 3 minutes; percents " + seen
                + "; page:\n" + browser.text("body"));
    }

    private static void assertProgressed(List<Double> seen) {
        assertTrue(seen.stream().anyMatch(p -> p > 0 && p < 100), "a percent strictly between 0 and 100: " + seen);
        assertEquals(100.0, seen.get(seen.size() - 1), "ends at 100 %: " + seen);
        for (int i = 1; i < seen.size(); i++) {
            assertTrue(seen.get(i) >= seen.get(i - 1), "the bar never goes back: " + seen);
        }
    }
}
