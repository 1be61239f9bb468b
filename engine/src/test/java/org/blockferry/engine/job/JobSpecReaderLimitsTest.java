package org.blockferry.engine.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.junit.jupiter.api.Test;

/** What a job spec may not hold however it arrives (API or job file), each refusal naming its field. */
class JobSpecReaderLimitsTest {
    private static final String DISK = "{\"id\": \"d0\", \"source\": \"nbd://h/a\", \"target\": \"/var/lib/t.img\"}";

    private static InvalidInputException refused(String json, int maxDisks) {
        return assertThrows(InvalidInputException.class,
                () -> JobSpecReader.read(json.getBytes(StandardCharsets.UTF_8), maxDisks));
    }

    private static InvalidInputException refused(String json) {
        return refused(json, JobSpecReader.DEFAULT_MAX_DISKS);
    }

    private static String disks(int n) {
        StringBuilder d = new StringBuilder();
        for (int i = 0; i < n; i++) {
            d.append(i == 0 ? "" : ", ").append("{\"id\": \"d").append(i).append("\", \"source\": \"nbd://h/")
                    .append(i).append("\", \"target\": \"/var/lib/t").append(i).append(".img\"}");
        }
        return "{\"vm\": \"v\", \"disks\": [" + d + "]}";
    }

    @Test
    void aKeyTwiceInOneObjectIsRefusedNamingIt() {
        assertEquals("vm", refused("{\"vm\": \"a\", \"disks\": [" + DISK + "], \"vm\": \"b\"}").field());
        assertEquals("disks[0].target", refused("{\"vm\": \"a\", \"disks\": [{\"id\": \"d0\", \"source\": \"nbd://h/a\","
                + " \"target\": \"/t\", \"target\": \"/u\"}]}").field());
    }

    @Test
    void nestingDeeperThan32IsRefusedWhere32Passes() {
        String ok = "{\"vm\": \"v\", \"x\": " + "[".repeat(31) + "]".repeat(31) + "}";
        InvalidInputException unknown = assertThrows(InvalidInputException.class,
                () -> JobSpecReader.read(ok.getBytes(StandardCharsets.UTF_8)));
        assertEquals("x", unknown.field(), "32 levels pass the shape; the binding refuses the unknown field");
        InvalidInputException deep = refused("{\"vm\": \"v\", \"x\": " + "[".repeat(32) + "]".repeat(32) + "}");
        assertEquals("x" + "[0]".repeat(31), deep.field());
        assertTrue(deep.getMessage().contains("deeper than 32"), deep.getMessage());
    }

    @Test
    void controlCharactersAreRefusedInEveryStringAndKey() {
        for (String control : new String[] {"\\u0000", "\\n", "\\r", "\\t", "\\u001b", "\\u007f", "\\u009b", "\\u2028"}) {
            InvalidInputException e = refused("{\"vm\": \"v\", \"disks\": [" + DISK + ", {\"id\": \"d1\", \"source\":"
                    + " \"nbd://h/b\", \"target\": \"/var/lib/x" + control + ".img\"}]}");
            assertEquals("disks[1].target", e.field(), control);
            assertTrue(e.getMessage().contains("control character U+"), e.getMessage());
        }
        assertEquals("source.datastore_map", refused("{\"vm\": \"v\", \"source\": {\"kind\": \"vmware\","
                + " \"datastore_map\": {\"[ds]\\n\": \"/x\"}}, \"disks\": [" + DISK + "]}").field(), "a key");
        assertEquals("body", refused("{\"v\\u0000m\": \"v\"}").field(), "a key at the top");
    }

    @Test
    void stringsLongerThan4096AreRefused() {
        String target = "/" + "t".repeat(JobSpecReader.MAX_STRING);
        InvalidInputException e = refused("{\"vm\": \"v\", \"disks\": [{\"id\": \"d0\", \"source\": \"nbd://h/a\","
                + " \"target\": \"" + target + "\"}]}");
        assertEquals("disks[0].target", e.field());
        assertTrue(e.getMessage().contains("4097 characters"), e.getMessage());
        assertEquals("vm", refused("{\"vm\": \"" + "v".repeat(5000) + "\"}").field());
    }

    @Test
    void moreDisksThanTheLimitAreRefusedBeforeTheyAreRead() {
        JobSpecReader.read(disks(64).getBytes(StandardCharsets.UTF_8)).validated();
        InvalidInputException e = refused(disks(65));
        assertEquals("disks", e.field());
        assertTrue(e.getMessage().contains("blockferry.jobs.max-disks-per-job"), e.getMessage());
        assertEquals("disks", refused(disks(3), 2).field(), "the node's own limit");
        assertEquals(64, JobSpecReader.maxDisks(ConfigFactory.load()), "the default");
        assertEquals(8, JobSpecReader.maxDisks(ConfigFactory.parseMap(Map.of("blockferry.jobs.max-disks-per-job", 8))));
        assertEquals("blockferry.jobs.max-disks-per-job", assertThrows(InvalidInputException.class,
                () -> JobSpecReader.maxDisks(ConfigFactory.parseMap(Map.of("blockferry.jobs.max-disks-per-job", 0))))
                .field());
    }

    @Test
    void anIntOutOfRangeNamesItsField() {
        assertEquals("options.max_parallel_disks", refused("{\"vm\": \"v\", \"disks\": [" + DISK + "], \"options\":"
                + " {\"max_parallel_disks\": 99999999999999999999}}").field());
    }
}
