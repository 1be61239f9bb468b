package org.blockferry.api.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.blockferry.engine.testing.Images;
import org.blockferry.nbd.testing.DiskChecksum;
import org.blockferry.nbd.testing.NbdkitLog;
import org.blockferry.nbd.testing.NbdkitServer;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.Test;

/** The command line as an operator uses it: results, exit codes, and one clear line per mistake. */
class CliTest {
    private final Path dir = TestPeers.scratchDirectory("cli-");

    /** Runs the command line in this JVM, as {@code blockferry ARGS} would. */
    static CliRunner.Run cli(String... args) {
        return CliRunner.run(args);
    }

    @Test
    void copyJsonReportsWhatWasMovedAndTheCopyIsExact() throws Exception {
        Path source = Images.sparse(dir.resolve("vm.img"), (24L << 20) + 511, 1).data(0, 3L << 20)
                .zeros(3L << 20, 1L << 20).data(20L << 20, 1L << 20).close();
        Path target = dir.resolve("vm-copy.img");
        CliRunner.Run run = cli("copy", "--json", "--connections", "2", "--request-size", "1M", source.toString(),
                target.toString());
        assertEquals(0, run.code(), run.err());
        JsonNode json = new ObjectMapper().readTree(run.out());
        assertEquals("completed", json.get("status").asText());
        assertEquals((24L << 20) + 511, json.get("capacity").asLong());
        assertEquals(5L << 20, json.get("planned_bytes").asLong(), "allocated bytes, not the capacity");
        assertEquals(4L << 20, json.get("bytes_written").asLong());
        assertEquals(1L << 20, json.get("bytes_zeroed").asLong());
        assertEquals((19L << 20) + 511, json.get("bytes_skipped").asLong());
        assertEquals(1 << 20, json.get("request_size").asInt());
        assertTrue(json.get("seconds").asDouble() > 0);
        assertEquals(DiskChecksum.ofFile(source), DiskChecksum.ofFile(target));
    }

    @Test
    void copyToAnNbdTargetThenVerifyIsEqual() throws Exception {
        Path source = Images.sparse(dir.resolve("v.img"), 8L << 20, 2).data(1L << 20, 2L << 20).close();
        try (NbdkitServer target = NbdkitServer.start(dir, "memory", "size=8M")) {
            CliRunner.Run copy = cli("copy", source.toString(), target.uri());
            assertEquals(0, copy.code(), copy.err());
            assertTrue(copy.out().contains("copied " + source), copy.out());
            CliRunner.Run verify = cli("verify", source.toString(), target.uri());
            assertEquals(0, verify.code(), verify.err());
            assertTrue(verify.out().contains("equal"), verify.out());
            assertEquals(DiskChecksum.ofFile(source), DiskChecksum.ofUri(target.uri()));
        }
    }

    @Test
    void verifyPrintsTheFirstDifferingOffsetAndExitsOne() throws Exception {
        Path a = Images.sparse(dir.resolve("a.img"), 4L << 20, 3).data(0, 4L << 20).close();
        Path b = dir.resolve("b.img");
        Files.copy(a, b);
        try (RandomAccessFile f = new RandomAccessFile(b.toFile(), "rw")) {
            f.seek(3_000_001);
            int x = f.read();
            f.seek(3_000_001);
            f.write(x ^ 1);
        }
        CliRunner.Run run = cli("verify", a.toString(), b.toString());
        assertEquals(1, run.code());
        assertEquals("differ at offset 3000001", run.out().trim());
    }

    @Test
    void everyBadInputGetsOneClearLineAndChangesNothing() throws Exception {
        Path source = Images.sparse(dir.resolve("src.img"), 4L << 20, 4).data(0, 4L << 20).close();
        Path log = dir.resolve("guard.log");
        try (NbdkitServer small = NbdkitServer.start(dir, "--filter=log", "memory", "size=1M", "logfile=" + log);
             NbdkitServer readOnly = NbdkitServer.start(dir, "-r", "--filter=log", "memory", "size=8M",
                     "logfile=" + log)) {
            record Bad(String[] args, String says) {
            }
            String absent = dir.resolve("absent.img").toString();
            String noServer = "nbd+unix:///?socket=" + dir.resolve("nobody.sock");
            String target = dir.resolve("never-created.img").toString();
            Bad[] cases = {
                new Bad(new String[] {"copy", absent, target}, "source: " + absent + " does not exist"),
                new Bad(new String[] {"copy", noServer, target}, "source: cannot connect to " + noServer),
                new Bad(new String[] {"copy", source.toString(), small.uri()}, "target: " + small.uri()
                        + " is smaller than the source"),
                new Bad(new String[] {"copy", source.toString(), readOnly.uri()}, "is read-only"),
                new Bad(new String[] {"copy", "nbd+tcp://host/x", target}, "source: unsupported URI scheme"),
                new Bad(new String[] {"copy", source.toString(), "nbd+unix:///x"}, "target: 'nbd+unix:///x' names no "
                        + "unix socket"),
                new Bad(new String[] {"copy", "--frobnicate", source.toString(), target}, "Unknown option: "
                        + "'--frobnicate'"),
                new Bad(new String[] {"copy", "--connections", "0", source.toString(), target}, "--connections: "
                        + "must be 1..16"),
                new Bad(new String[] {"copy", "--request-size", "3X", source.toString(), target}, "--request-size: "
                        + "'3X' has an unknown unit"),
                new Bad(new String[] {"copy", "--request-size", "64M", source.toString(), target}, "--request-size: "
                        + "must be 4K..32M"),
                new Bad(new String[] {"copy", source.toString()}, "Missing required parameter: 'DST'"),
                new Bad(new String[] {"verify", absent, source.toString()}, "does not exist"),
                new Bad(new String[] {"serve", "--bind", "0.0.0.0", "--port", "0"}, "blockferry.http.tls.enabled: '0.0.0.0'"
                        + " is not a loopback address: refusing to send the API's token and job specs over the network"
                        + " in plain HTTP"),
                new Bad(new String[] {"serve", "--port", "70000"}, "--port: 70000 is not a port"),
                new Bad(new String[] {"serve", "--port", "eighty"}, "Invalid value for option '--port'"),
                new Bad(new String[] {"frob"}, "Unmatched argument"),
                new Bad(new String[] {}, "a command is required"),
            };
            for (Bad bad : cases) {
                CliRunner.Run run = cli(bad.args());
                String what = String.join(" ", bad.args());
                assertEquals(2, run.code(), what + " -> " + run.err());
                assertEquals(1, run.err().strip().lines().count(), "one line for " + what + ": " + run.err());
                assertTrue(run.err().contains(bad.says()), what + " -> " + run.err());
                assertFalse(run.err().contains("Exception") || run.err().contains("\tat "), "no stack trace: "
                        + run.err());
                assertEquals("", run.out(), what);
            }
            assertFalse(Files.exists(Path.of(target)), "no target was created by a refused copy");
            assertEquals(0, NbdkitLog.bytes(NbdkitLog.requests(log), "Write"), "nothing was written");
            assertEquals(0, NbdkitLog.bytes(NbdkitLog.requests(log), "Zero"), "nothing was zeroed");
        }
    }

    @Test
    void helpListsTheCommandsAndEachCommandsFlags() {
        CliRunner.Run root = cli("--help");
        assertEquals(0, root.code());
        for (String command : new String[] {"copy", "verify", "replicate", "jobs", "job", "cluster", "serve",
            "demo"}) {
            assertTrue(root.out().contains("  " + command + " "), root.out());
        }
        assertFalse(root.out().contains("cds-training"), "the training command is hidden");
        CliRunner.Run copy = cli("copy", "--help");
        for (String flag : new String[] {"--json", "--connections", "--request-size", "--target-is-zero"}) {
            assertTrue(copy.out().contains(flag), copy.out());
        }
    }

    @Test
    void demoCopiesTwoDisksAndVerifiesThem() {
        CliRunner.Run run = cli("demo", "--dir", dir.resolve("demo").toString());
        assertEquals(0, run.code(), run.err());
        assertEquals(2, run.out().lines().filter(l -> l.endsWith("  equal")).count(), run.out());
        assertTrue(run.out().contains("Both copies equal their sources"), run.out());
        assertTrue(run.out().lines().anyMatch(l -> l.startsWith("system") && l.contains(" full ")
                && l.contains(" incremental ")), "sync 1 full, sync 2 incremental: " + run.out());
        // The guest zeroed 2 MiB and discarded 1 MiB of data per disk: sync 2 made those 3 MiB NBD zero.
        assertEquals(2, run.out().lines().filter(l -> l.matches("(system|data) .* incremental .* 3\\.00 MiB  equal"))
                .count(), run.out());
        // A finished bar shows the average rate of its copy and the time it took, not "0 B/s ETA --:--".
        List<String> finished = run.out().lines().filter(l -> l.contains("100.00%")).toList();
        assertTrue(finished.size() >= 6, "two disks and the job, two syncs: " + run.out());
        for (String bar : finished) {
            assertTrue(bar.matches(".* [1-9][0-9.]* [KMG]?i?B/s  (done|completed) in [0-9.]+ s"), bar);
        }
        for (String disk : new String[] {"system", "data"}) {
            try (var export = org.blockferry.nbd.testing.QemuNbdServer.start(dir, dir.resolve("demo/" + disk
                    + ".qcow2"), "-r", "-f", "qcow2")) {
                assertEquals(DiskChecksum.ofUri(export.uri()), DiskChecksum.ofFile(dir.resolve("demo/" + disk
                        + "-copy.img")), disk);
            }
        }
    }
}
