package org.blockferry.engine.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.plan.CopyMode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class JobSpecVmwareTest {
    private static final String SOURCE = "\"kind\": \"vmware\", \"vcenter\": \"vc1\", \"vm\": \"DC0/vm/web01\","
            + " \"datastore_map\": {\"[datastore1] web01/\": \"/mnt/ds1/web01/\"}";

    private static JobSpec read(String source, String diskSource) {
        String json = "{\"job_id\": \"j1\", \"vm\": \"web01\", \"source\": {" + source + "}, \"disks\": [{\"id\": \"d0\","
                + " \"source\": \"" + diskSource + "\", \"target\": \"/data/web01-d0.img\"}], \"mode\": \"incremental\"}";
        return JobSpecReader.read(json.getBytes(StandardCharsets.UTF_8)).validated();
    }

    private static InvalidInputException invalid(String source, String diskSource) {
        return assertThrows(InvalidInputException.class, () -> read(source, diskSource));
    }

    @Test
    void aVmwareSourceNamesAVcenterOfTheNode() {
        JobSpec spec = read(SOURCE, "[datastore1] web01/web01.vmdk");
        assertEquals("vmware", spec.source().kind());
        assertEquals("vc1", spec.source().vcenter());
        assertEquals("DC0/vm/web01", spec.source().vm());
        assertEquals(Map.of("[datastore1] web01/", "/mnt/ds1/web01/"), spec.source().datastoreMap());
        assertEquals(CopyMode.INCREMENTAL, spec.mode());
        assertEquals("2000", read(SOURCE, "2000").disks().get(0).source());
        assertEquals(JobSpec.Source.vmware("vc1", "DC0/vm/web01", Map.of("[datastore1] web01/", "/mnt/ds1/web01/")),
                spec.source());
    }

    @Test
    void eachMissingOrWrongFieldIsNamed() {
        assertEquals("source.vcenter", invalid(SOURCE.replace("\"vcenter\": \"vc1\",", ""), "2000").field());
        assertEquals("source.vcenter", invalid(SOURCE.replace("\"vc1\"", "\"https://vc1/sdk\""), "2000").field());
        assertEquals("source.vcenter", invalid(SOURCE.replace("\"vc1\"", "\"\""), "2000").field());
        assertEquals("source.vm", invalid(SOURCE.replace("DC0/vm/web01", "web01"), "2000").field());
        assertEquals("source.datastore_map", invalid(SOURCE.replace("{\"[datastore1] web01/\": \"/mnt/ds1/web01/\"}",
                "{}"), "2000").field());
        assertEquals("source.datastore_map[[datastore1] web01/]", invalid(SOURCE.replace("/mnt/ds1/web01/", "rel/"),
                "2000").field());
        assertEquals("disks[0].source", invalid(SOURCE, "/images/web01.img").field());
    }

    /**
     * A job file of an older version says where vCenter is, who logs in and how: each such field
     * is refused, named, with what to do instead, and no value of the job is echoed.
     */
    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "url           | \"https://attacker.example/sdk\"",
        "url           | \"http://vc.example/sdk\"",
        "user          | \"administrator@vsphere.local\"",
        "password      | \"hunter2-pw\"",
        "password_file | \"/etc/blockferry/db.password\"",
        "password_env  | \"BLOCKFERRY_API_TOKEN\"",
        "thumbprint    | \"" + "ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab\"",
        "insecure      | true"})
    void aJobThatSaysWhereOrHowToLogInIsRefused(String field, String value) {
        InvalidInputException e = invalid(SOURCE + ", \"" + field + "\": " + value, "2000");
        assertEquals("source." + field, e.field());
        assertEquals("source." + field + ": jobs name a vCenter configured on the node (source.vcenter); see"
                + " blockferry.vmware.vcenters", e.getMessage());
        InvalidInputException withoutVcenter = invalid(SOURCE.replace("\"vcenter\": \"vc1\",", "\"" + field + "\": "
                + value + ","), "2000");
        assertEquals("source." + field, withoutVcenter.field(), "an old job file: refused for the old field");
    }

    @Test
    void vmwareFieldsAreRefusedForOtherKinds() {
        for (String field : List.of("\"vcenter\": \"vc1\"", "\"vm\": \"DC0/vm/x\"", "\"url\": \"https://vc/sdk\"")) {
            InvalidInputException e = assertThrows(InvalidInputException.class, () -> JobSpecReader.read(("{\"vm\":"
                    + " \"v\", \"source\": {\"kind\": \"qemu\", " + field + "}, \"disks\": [{\"id\": \"d0\","
                    + " \"source\": \"/a.qcow2\", \"target\": \"/b.img\"}]}").getBytes(StandardCharsets.UTF_8))
                    .validated());
            assertEquals("source." + field.substring(1, field.indexOf('"', 1)), e.field());
        }
    }

    @Test
    void finalSyncIsAVmwareOption() {
        String json = "{\"vm\": \"web01\", \"source\": {" + SOURCE + "}, \"disks\": [{\"id\": \"d0\","
                + " \"source\": \"2000\", \"target\": \"/data/d0.img\"}], \"options\": {\"final_sync\": true}}";
        JobSpec spec = JobSpecReader.read(json.getBytes(StandardCharsets.UTF_8)).validated();
        assertTrue(spec.options().finalSync());
        assertFalse(read(SOURCE, "2000").options().finalSync(), "off by default");
        assertFalse(new JobSpec.Options(2, true, false, true).finalSync(), "the 4-argument constructor");
        for (String kind : List.of("nbd", "qemu")) {
            String other = "{\"vm\": \"v\", \"source\": {\"kind\": \"" + kind + "\"}, \"disks\": [{\"id\": \"d0\","
                    + " \"source\": \"" + (kind.equals("nbd") ? "nbd://h/x" : "/a.qcow2") + "\", \"target\": \"/b.img\"}],"
                    + " \"options\": {\"final_sync\": true}}";
            InvalidInputException e = assertThrows(InvalidInputException.class,
                    () -> JobSpecReader.read(other.getBytes(StandardCharsets.UTF_8)).validated());
            assertEquals("options.final_sync", e.field());
            assertTrue(e.getMessage().contains("vmware"), e.getMessage());
        }
        assertThrows(RuntimeException.class, () -> JobSpecReader.read(json.replace("final_sync", "final_sync_x")
                .getBytes(StandardCharsets.UTF_8)), "still strict about unknown options");
    }
}
