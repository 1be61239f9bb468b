package org.blockferry.engine.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.plan.CopyMode;
import org.junit.jupiter.api.Test;

/** Job specs from JSON: defaults, and every kind of mistake named by its field. */
class JobSpecReaderTest {
    private static JobSpec read(String json) {
        return JobSpecReader.read(json.getBytes(StandardCharsets.UTF_8)).validated();
    }

    @Test
    void minimalSpecGetsDefaults() {
        JobSpec s = read("{\"vm\": \"web\", \"disks\": [{\"id\": \"d0\", \"source\": \"nbd://h/x\","
                + " \"target\": \"/var/lib/images/d0.img\"}]}");
        assertNotNull(s.jobId(), "a job id is generated");
        assertEquals(CopyMode.AUTO, s.mode());
        assertEquals("nbd", s.source().kind());
        assertEquals(JobSpec.Options.DEFAULT, s.options());
    }

    @Test
    void fullSpecIsRead() {
        JobSpec s = read("{\"job_id\": \"j-1\", \"vm\": \"db\", \"source\": {\"kind\": \"nbd\"}, \"mode\": \"full\","
                + " \"disks\": [{\"id\": \"a\", \"source\": \"nbd://h/a\", \"target\": \"nbd://t/a\"},"
                + " {\"id\": \"b\", \"source\": \"nbd://h/b\", \"target\": \"nbd://t/b\"}],"
                + " \"options\": {\"max_parallel_disks\": 1, \"verify\": true, \"target_is_zero\": false,"
                + " \"fail_fast\": true}}");
        assertEquals("j-1", s.jobId());
        assertEquals(CopyMode.FULL, s.mode());
        assertEquals(new JobSpec.Options(1, true, false, true), s.options());
        assertEquals(2, s.disks().size());
    }

    @Test
    void mistakesNameTheirField() {
        String disk = "{\"id\": \"a\", \"source\": \"nbd://h/a\", \"target\": \"nbd://t/a\"}";
        record Bad(String json, String field, String says) {
        }
        for (Bad bad : new Bad[] {
            new Bad("{", "body", "is not valid JSON"),
            new Bad("[]", "body", "wrong type"),
            new Bad("{\"vm\": \"x\", \"disks\": [" + disk + "], \"color\": 1}", "", "unknown field 'color'"),
            new Bad("{\"disks\": [" + disk + "]}", "vm", "is required"),
            new Bad("{\"vm\": \"x\"}", "disks", "at least one disk"),
            new Bad("{\"vm\": \"x\", \"disks\": []}", "disks", "at least one disk"),
            new Bad("{\"vm\": \"x\", \"disks\": {}}", "disks", "wrong type"),
            new Bad("{\"vm\": 5, \"disks\": [" + disk + "]}", "vm", "wrong type"),
            new Bad("{\"vm\": \"x\", \"disks\": [" + disk + ", " + disk + "]}", "disks[1].id", "is used by another"),
            new Bad("{\"vm\": \"x\", \"disks\": [{\"id\": \"a\", \"source\": \"ftp://h\", \"target\": \"/t\"}]}",
                    "disks[0].source", "unsupported URI scheme"),
            new Bad("{\"vm\": \"x\", \"disks\": [{\"id\": \"a\", \"source\": \"/s\"}]}", "disks[0].target", "is empty"),
            new Bad("{\"vm\": \"x\", \"disks\": [{\"id\": \"a b\", \"source\": \"/s\", \"target\": \"/t\"}]}",
                    "disks[0].id", "must be 1-64"),
            new Bad("{\"vm\": \"x\", \"disks\": [{\"id\": \"a\", \"source\": \"/s\", \"target\": \"/t\", \"z\": 1}]}",
                    "disks[0]", "unknown field 'z'"),
            new Bad("{\"vm\": \"x\", \"mode\": \"sometimes\", \"disks\": [" + disk + "]}", "mode", "is not a mode"),
            new Bad("{\"vm\": \"x\", \"mode\": \"incremental\", \"disks\": [" + disk + "]}", "mode",
                    "needs change tracking"),
            new Bad("{\"vm\": \"x\", \"source\": {\"kind\": \"hyperv\"}, \"disks\": [" + disk + "]}", "source.kind",
                    "not a supported source kind"),
            new Bad("{\"vm\": \"x\", \"job_id\": \"../etc\", \"disks\": [" + disk + "]}", "job_id", "must be 1-64"),
            new Bad("{\"vm\": \"x\", \"disks\": [" + disk + "], \"options\": {\"max_parallel_disks\": -1}}",
                    "options.max_parallel_disks", "must be 0"),
            new Bad("{\"vm\": \"x\", \"disks\": [" + disk + "], \"options\": {\"verify\": \"yes\"}}",
                    "options.verify", "wrong type"),
            new Bad("{\"vm\": \"x\", \"disks\": [" + disk + "], \"options\": {\"max_parallel_disks\": 1.5}}",
                    "options.max_parallel_disks", "wrong type"),
        }) {
            InvalidInputException e = assertThrows(InvalidInputException.class, () -> read(bad.json()), bad.json());
            assertTrue(e.field().startsWith(bad.field()), bad.json() + " -> field " + e.field());
            assertTrue(e.getMessage().contains(bad.says()), bad.json() + " -> " + e.getMessage());
        }
    }
}
