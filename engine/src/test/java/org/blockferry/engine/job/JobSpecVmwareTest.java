package org.blockferry.engine.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.plan.CopyMode;
import org.junit.jupiter.api.Test;

class JobSpecVmwareTest {
    private static final String SOURCE = "\"kind\": \"vmware\", \"url\": \"https://vc.example/sdk\", \"user\": \"bf\","
            + " \"password_file\": \"/run/secrets/vc\", \"vm\": \"DC0/vm/web01\","
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
    void aVcenterSourceWithVmdkNamesOrDeviceKeysIsValid() {
        JobSpec spec = read(SOURCE, "[datastore1] web01/web01.vmdk");
        assertEquals("vmware", spec.source().kind());
        assertEquals("DC0/vm/web01", spec.source().vm());
        assertEquals(Map.of("[datastore1] web01/", "/mnt/ds1/web01/"), spec.source().datastoreMap());
        assertEquals(CopyMode.INCREMENTAL, spec.mode());
        assertEquals("2000", read(SOURCE, "2000").disks().get(0).source());
        assertFalse(spec.source().toString().contains("/run/secrets"));
    }

    @Test
    void eachMissingOrWrongFieldIsNamed() {
        assertEquals("source.url", invalid(SOURCE.replace("https://vc.example/sdk", "vc.example"), "2000").field());
        assertEquals("source.user", invalid(SOURCE.replace("\"user\": \"bf\",", ""), "2000").field());
        assertEquals("source.password_file", invalid(SOURCE.replace("\"password_file\": \"/run/secrets/vc\",", ""),
                "2000").field());
        assertEquals("source.password_file", invalid(SOURCE + ", \"password_env\": \"VC_PASSWORD\"", "2000").field());
        assertEquals("source.password_file", invalid(SOURCE.replace("/run/secrets/vc", "vc.txt"), "2000").field());
        assertEquals("source.vm", invalid(SOURCE.replace("DC0/vm/web01", "web01"), "2000").field());
        assertEquals("source.thumbprint", invalid(SOURCE + ", \"thumbprint\": \"AB:CD\"", "2000").field());
        assertEquals("source.insecure", invalid(SOURCE + ", \"thumbprint\": \"" + "ab".repeat(32)
                + "\", \"insecure\": true", "2000").field());
        assertEquals("source.datastore_map", invalid(SOURCE.replace("{\"[datastore1] web01/\": \"/mnt/ds1/web01/\"}",
                "{}"), "2000").field());
        assertEquals("source.datastore_map[[datastore1] web01/]", invalid(SOURCE.replace("/mnt/ds1/web01/", "rel/"),
                "2000").field());
        assertEquals("disks[0].source", invalid(SOURCE, "/images/web01.img").field());
    }

    @Test
    void withoutADatastoreMapTheDisksAreReadThroughVddk() {
        JobSpec spec = read(SOURCE.replace(", \"datastore_map\": {\"[datastore1] web01/\": \"/mnt/ds1/web01/\"}", ""),
                "[datastore1] web01/web01.vmdk");
        assertEquals(null, spec.source().datastoreMap());
    }

    @Test
    void thePasswordItselfIsNotAField() {
        InvalidInputException e = invalid(SOURCE + ", \"password\": \"hunter2\"", "2000");
        assertEquals("source.password", e.field());
        assertTrue(e.getMessage().contains("password_file"), e.getMessage());
        assertFalse(e.getMessage().contains("hunter2"), e.getMessage());
    }

    @Test
    void vcenterFieldsAreRefusedForOtherKinds() {
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> JobSpecReader.read(("{\"vm\": \"v\","
                + " \"source\": {\"kind\": \"qemu\", \"url\": \"https://vc/sdk\"}, \"disks\": [{\"id\": \"d0\","
                + " \"source\": \"/a.qcow2\", \"target\": \"/b.img\"}]}").getBytes(StandardCharsets.UTF_8)).validated());
        assertEquals("source.url", e.field());
    }

    @Test
    void finalSyncIsAVmwareOption() {
        String json = "{\"vm\": \"web01\", \"source\": {" + SOURCE + "}, \"disks\": [{\"id\": \"d0\","
                + " \"source\": \"2000\", \"target\": \"/data/d0.img\"}], \"options\": {\"final_sync\": true}}";
        JobSpec spec = JobSpecReader.read(json.getBytes(StandardCharsets.UTF_8)).validated();
        assertTrue(spec.options().finalSync());
        assertFalse(read(SOURCE, "2000").options().finalSync(), "off by default");
        assertFalse(new JobSpec.Options(2, true, false, true).finalSync(), "the 4-argument constructor");
        for (String kind : java.util.List.of("nbd", "qemu")) {
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
