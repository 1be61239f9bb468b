package org.blockferry.api.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.blockferry.api.node.Qcow2Images;
import org.blockferry.api.node.TestDatabases;
import org.blockferry.engine.source.ChangeToken;
import org.blockferry.nbd.testing.DiskChecksum;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Ten incremental syncs of one qcow2 disk through the API, each submitted as soon as the previous
 * one's event stream says completed (no sleeps), with guest writes in between: each sync after
 * the first reads the change token the previous one left (from the target's lineage, not from
 * the lagging read side), is incremental, moves only that cycle's changes, and leaves the target
 * equal to the source.
 */
class BackToBackSyncTest {
    private static final long SIZE = 256L << 20;

    private static String spec(String jobId, Path image, Path target) {
        return "{\"job_id\": \"" + jobId + "\", \"vm\": \"b2b\", \"source\": {\"kind\": \"qemu\"}, \"mode\": \""
                + (jobId.endsWith("-0") ? "auto" : "incremental") + "\", \"disks\": [{\"id\": \"d0\", \"source\": \""
                + image + "\", \"target\": \"" + target + "\"}]}";
    }

    /** Submits the sync and follows its stream to the end; returns its final document. */
    private static JsonNode syncThroughTheStream(ApiFixture api, String jobId, Path image, Path target)
            throws Exception {
        HttpResponse<String> submitted = api.postJson("/api/v1/jobs", spec(jobId, image, target));
        assertEquals(202, submitted.statusCode(), submitted.body());
        SseClient.Seen seen = SseClient.read(api.client, api.request("/api/v1/jobs/" + jobId + "/events").build(),
                e -> false, Duration.ofMinutes(3));
        assertTrue(seen.ended(), jobId + ": " + seen.events());
        List<String> states = seen.states();
        assertEquals("completed", states.get(states.size() - 1), jobId + ": " + seen.events());
        return seen.named("progress").get(seen.named("progress").size() - 1).data();
    }

    @ParameterizedTest
    @EnumSource(TestDatabases.Kind.class)
    void tenIncrementalSyncsSubmittedBackToBackEachMoveOnlyTheirCycle(TestDatabases.Kind db) throws Exception {
        Path dir = TestPeers.scratchDirectory("b2b-");
        Path image = Qcow2Images.create(dir, "disk.qcow2", "256M", 30, 71);
        Path target = dir.resolve("target.img");
        try (ApiFixture api = ApiFixture.start(dir, db, null, Map.of())) {
            JsonNode first = syncThroughTheStream(api, "b2b-" + db + "-0", image, target);
            assertEquals("full", first.path("disks").get(0).path("mode").asText());
            assertEquals(Qcow2Images.checksum(dir, image), DiskChecksum.ofFile(target));
            String bitmap = bitmap(first);
            for (int cycle = 1; cycle <= 10; cycle++) {
                List<Qcow2Images.Write> writes = Qcow2Images.scatter(image, SIZE, 2L << 20, 200 + cycle);
                long changed = Qcow2Images.dirtyDataBytes(dir, image, bitmap);
                JsonNode doc = syncThroughTheStream(api, "b2b-" + db + "-" + cycle, image, target);
                JsonNode disk = doc.path("disks").get(0);
                assertEquals("incremental", disk.path("mode").asText(), "cycle " + cycle + ": " + disk);
                assertTrue(disk.path("mode_reason").asText().contains(bitmap), "cycle " + cycle
                        + " read the token the previous sync left: " + disk);
                assertEquals(changed, disk.path("total_bytes").asLong(), "cycle " + cycle + ": its changed data");
                assertTrue(disk.path("bytes_written").asLong() + disk.path("bytes_zeroed").asLong()
                        <= Qcow2Images.touchedRoundedToGranularity(writes), "cycle " + cycle + ": " + disk);
                assertEquals(Qcow2Images.checksum(dir, image), DiskChecksum.ofFile(target), "cycle " + cycle);
                bitmap = bitmap(doc);
            }
            assertEquals(List.of(bitmap), Qcow2Images.bitmaps(image), "one bitmap left after eleven syncs");
        }
    }

    private static String bitmap(JsonNode doc) {
        return ChangeToken.parse(doc.path("disks").get(0).path("change_token").asText()).orElseThrow().reference();
    }
}
