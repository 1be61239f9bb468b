package org.blockferry.api.cli;

import static org.blockferry.api.cli.CliTest.cli;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import org.blockferry.api.cli.CliRunner.Run;
import org.blockferry.nbd.testing.DiskChecksum;
import org.blockferry.nbd.testing.NbdkitServer;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** replicate, jobs and job as an operator uses them, on the embedded H2 database of a data dir. */
class JobCliTest {
    private Path dir;

    @BeforeEach
    void dataDir() {
        dir = TestPeers.scratchDirectory("jobcli-");
        System.setProperty("blockferry.data-dir", dir.toString());
        ConfigFactory.invalidateCaches();
    }

    @AfterEach
    void restore() {
        System.clearProperty("blockferry.data-dir");
        ConfigFactory.invalidateCaches();
    }

    @Test
    void replicateThenJobsAndJobShowTheFinishedJob() throws Exception {
        try (NbdkitServer source = NbdkitServer.start(dir, "sparse-random", "size=24M", "percent=50", "seed=4");
             NbdkitServer target = NbdkitServer.start(dir, "memory", "size=24M")) {
            Run run = cli("replicate", "--json", "--vm", "cli-vm", "--source", source.uri(), "--target", target.uri(),
                    "--job-id", "cli-job", "--verify");
            assertEquals(0, run.code(), run.err());
            JsonNode job = new ObjectMapper().readTree(run.out());
            assertEquals("completed", job.get("status").asText());
            assertEquals(100.0, job.get("progress_percent").asDouble());
            assertEquals(job.get("total_bytes").asLong(), job.get("bytes_transferred").asLong());
            assertTrue(job.get("total_bytes").asLong() < (24L << 20), "planned, not capacity");
            assertEquals("disk0", job.get("disks").get(0).get("id").asText());
            assertEquals(DiskChecksum.ofUri(source.uri()), DiskChecksum.ofUri(target.uri()));

            Run list = cli("jobs", "--json");
            assertEquals(0, list.code(), list.err());
            assertEquals("cli-job", new ObjectMapper().readTree(list.out()).get("jobs").get(0).get("job_id").asText());
            Run table = cli("jobs", "--status", "completed");
            assertTrue(table.out().contains("cli-job") && table.out().contains("cli-vm"), table.out());
            Run show = cli("job", "cli-job");
            assertEquals(0, show.code());
            assertTrue(show.out().contains("job cli-job  vm cli-vm  completed  100.00%"), show.out());

            Run again = cli("replicate", "--json", "--vm", "cli-vm", "--source", source.uri(), "--target",
                    target.uri(), "--job-id", "cli-job", "--verify");
            assertEquals(0, again.code(), "the same job id and spec is the same (finished) job: " + again.err());
            Run conflict = cli("replicate", "--vm", "other", "--source", source.uri(), "--target", target.uri(),
                    "--job-id", "cli-job");
            assertEquals(2, conflict.code());
            assertTrue(conflict.err().contains("already exists with a different spec"), conflict.err());
        }
    }

    @Test
    void badJobInputIsOneClearLine() throws Exception {
        Path badJson = dir.resolve("bad.json");
        Files.writeString(badJson, "{\"vm\": \"x\", \"disks\": [{\"id\": \"a\", \"source\": \"/s\", \"target\": 7}]}");
        Path unknown = dir.resolve("unknown.json");
        Files.writeString(unknown, "{\"vm\": \"x\", \"disks\": [], \"colour\": \"blue\"}");
        record Bad(String[] args, String says) {
        }
        for (Bad bad : new Bad[] {
            new Bad(new String[] {"replicate"}, "--job-file: give a job file, or all of --vm, --source and --target"),
            new Bad(new String[] {"replicate", "--job-file", dir.resolve("none.json").toString()}, "does not exist"),
            new Bad(new String[] {"replicate", "--job-file", badJson.toString()}, "disks[0].target: '7' has the wrong"),
            new Bad(new String[] {"replicate", "--job-file", unknown.toString()}, "unknown field 'colour'"),
            new Bad(new String[] {"replicate", "--vm", "x", "--source", "/a", "--target", "gopher://x"},
                    "disks[0].target: unsupported URI scheme"),
            new Bad(new String[] {"replicate", "--vm", "x", "--source", "/a", "--target", "/b", "--mode", "often"},
                    "mode: 'often' is not a mode"),
            new Bad(new String[] {"jobs", "--status", "sleeping"}, "--status: 'sleeping' is not a status"),
            new Bad(new String[] {"jobs", "--limit", "0"}, "--limit: must be 1..10000"),
            new Bad(new String[] {"job", "no-such-job"}, "ID: no job 'no-such-job'"),
        }) {
            Run run = cli(bad.args());
            String what = String.join(" ", bad.args());
            assertEquals(2, run.code(), what + " -> " + run.err());
            assertEquals(1, run.err().strip().lines().count(), what + ": " + run.err());
            assertTrue(run.err().contains(bad.says()), what + " -> " + run.err());
            assertFalse(run.err().contains("\tat "), run.err());
        }
    }
}
