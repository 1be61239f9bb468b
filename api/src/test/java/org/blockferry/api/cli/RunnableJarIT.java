package org.blockferry.api.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.blockferry.api.node.Qcow2Images;
import org.blockferry.engine.testing.Images;
import org.blockferry.nbd.testing.DiskChecksum;
import org.blockferry.nbd.testing.NbdkitServer;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.Test;

/** The shaded jar as the launcher runs it: its own process, its merged configuration, exit codes. */
class RunnableJarIT {
    private final Path dir = TestPeers.scratchDirectory("jar-");

    record Result(int code, String out, String err) {
    }

    private static Result java(String... args) throws Exception {
        String jar = System.getProperty("blockferry.jar");
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-jar", jar));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.PIPE).start();
        String out = new String(p.getInputStream().readAllBytes());
        String err = new String(p.getErrorStream().readAllBytes());
        assertTrue(p.waitFor(5, TimeUnit.MINUTES), "the process ends");
        return new Result(p.exitValue(), out, err);
    }

    @Test
    void demoRunsFromTheJarAndBothCopiesVerify() throws Exception {
        Path demo = dir.resolve("demo");
        Result r = java("demo", "--dir", demo.toString());
        assertEquals(0, r.code(), r.err());
        assertEquals(2, r.out().lines().filter(l -> l.endsWith("  equal")).count(), r.out());
        assertEquals("", r.err().strip(), "nothing on stderr for a good run: " + r.err());
        for (String disk : List.of("system", "data")) { // the demo's own "equal", checked by other tools
            assertEquals(Qcow2Images.checksum(dir, demo.resolve(disk + ".qcow2")),
                    DiskChecksum.ofFile(demo.resolve(disk + "-copy.img")), disk + ": the copy holds the image's bytes");
        }
    }

    @Test
    void copyJsonFromTheJarIsExact() throws Exception {
        try (NbdkitServer source = NbdkitServer.start(dir, "sparse-random", "size=64M", "percent=30", "seed=5");
             NbdkitServer target = NbdkitServer.start(dir, "memory", "size=64M")) {
            Result r = java("copy", "--json", source.uri(), target.uri());
            assertEquals(0, r.code(), r.err());
            JsonNode json = new ObjectMapper().readTree(r.out());
            assertEquals("completed", json.get("status").asText());
            assertTrue(json.get("planned_bytes").asLong() < (64L << 20));
            assertEquals(DiskChecksum.ofUri(source.uri()), DiskChecksum.ofUri(target.uri()));
        }
    }

    @Test
    void badInputExitsTwoWithOneLine() throws Exception {
        Path image = Images.sparse(dir.resolve("x.img"), 1L << 20, 1).data(0, 4096).close();
        Result r = java("copy", image.toString(), "nbd://");
        assertEquals(2, r.code());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().startsWith("blockferry copy: target: 'nbd://' is not a valid URI"), r.err());
    }
}
