package org.blockferry.api.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.blockferry.api.cds.ClassFileUpgrade;
import org.blockferry.api.cds.PlainLambdas;
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
        return java(List.of(), args);
    }

    private static Result java(List<String> jvmOptions, String... args) throws Exception {
        return java(jvmOptions, java.util.Map.of(), args);
    }

    private static Result java(List<String> jvmOptions, java.util.Map<String, String> env, String... args)
            throws Exception {
        String jar = System.getProperty("blockferry.jar");
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.addAll(jvmOptions);
        cmd.addAll(List.of("-jar", jar));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.PIPE);
        pb.environment().putAll(env);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes());
        String err = new String(p.getErrorStream().readAllBytes());
        assertTrue(p.waitFor(5, TimeUnit.MINUTES), "the process ends");
        return new Result(p.exitValue(), out, err);
    }

    /**
     * The launcher's class-data archive holds only class files of Java 6 or later: the build
     * raises older ones (picocli, ASM, jnr-x86asm), and this jar then runs (the tests below).
     */
    @Test
    void everyClassFileInTheJarIsArchivable() throws Exception {
        List<String> old = new ArrayList<>();
        int classes = 0;
        try (java.util.zip.ZipFile zip = new java.util.zip.ZipFile(System.getProperty("blockferry.jar"))) {
            for (var e : java.util.Collections.list(zip.entries())) {
                if (e.getName().endsWith(".class")) {
                    classes++;
                    byte[] head = zip.getInputStream(e).readNBytes(8);
                    if (ClassFileUpgrade.version(head) < ClassFileUpgrade.FIRST_ARCHIVABLE) {
                        old.add(e.getName());
                    }
                }
            }
        }
        assertTrue(classes > 10_000, "the shaded jar: " + classes + " classes");
        assertEquals(List.of(), old, "class files older than Java 6");
    }

    /**
     * ... and it holds only lambdas whose classes it can keep: the build made the call sites
     * that asked for serializability and uncalled bridges (every Scala function) plain.
     */
    @Test
    void everyLambdaTheBuildCanMakePlainIsPlain() throws Exception {
        PlainLambdas.Count left = PlainLambdas.survey(Path.of(System.getProperty("blockferry.jar")));
        assertEquals(0, left.plain(), "call sites still asking for serializability");
        assertTrue(left.kept() < 50, "call sites that must stay as they are: " + left.kept());
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

    /**
     * The launcher's training run works from the jar (the launcher would silently go without an
     * archive otherwise), and with its archive Pekko's lambdas — Scala's, made plain by the build —
     * are loaded from it rather than generated again; the copy is still exact.
     */
    @Test
    void theArchiveTrainingRunsAndPekkosLambdasComeFromItsArchive() throws Exception {
        Path archive = dir.resolve("training.jsa");
        Result training = java(List.of("-XX:ArchiveClassesAtExit=" + archive, "-Xlog:cds=off", "-Xlog:cds+dynamic=off"),
                "cds-training");
        assertEquals(0, training.code(), training.err());
        assertTrue(Files.size(archive) > (10L << 20), "an archive of " + Files.size(archive) + " bytes");
        try (NbdkitServer source = NbdkitServer.start(dir, "sparse-random", "size=16M", "percent=30", "seed=7");
             NbdkitServer target = NbdkitServer.start(dir, "memory", "size=16M")) {
            Result copy = java(List.of("-XX:SharedArchiveFile=" + archive, "-Xlog:class+load=info"),
                    "copy", source.uri(), target.uri());
            assertEquals(0, copy.code(), copy.err());
            List<String> lambdas = copy.out().lines()
                    .filter(l -> l.contains(" org.apache.pekko.") && l.contains("$$Lambda$")).toList();
            long archived = lambdas.stream().filter(l -> l.contains("shared objects file")).count();
            assertTrue(archived > 50, "Pekko lambdas from the archive: " + archived + " of " + lambdas.size());
            assertTrue(lambdas.size() - archived < archived / 10, "Pekko lambdas generated at start: "
                    + (lambdas.size() - archived) + " of " + lambdas.size());
            assertEquals(DiskChecksum.ofUri(source.uri()), DiskChecksum.ofUri(target.uri()));
        }
    }

    /** Every cipher nbdkit logged, one per TLS connection, in order ({@code -D nbdkit.tls.session=1}). */
    private static List<String> ciphers(NbdkitServer server) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile(
                "debug: TLS session: \\(TLS[0-9.]+\\)-[^\\n]*-\\(([A-Z0-9-]+)\\)").matcher(server.logText());
        List<String> all = new ArrayList<>();
        while (m.find()) {
            all.add(m.group(1));
        }
        return all;
    }

    @Test
    void theTlsCipherSettingChoosesWhatTheJarOffers() throws Exception {
        Path keys = Files.createDirectories(dir.resolve("keys"));
        Path psk = keys.resolve("frank.psk");
        Files.writeString(psk, "frank:0123456789abcdef0123456789abcdef\n");
        Path image = Images.sparse(dir.resolve("t.img"), 4L << 20, 7).data(0, 1L << 20).close();
        try (NbdkitServer target = NbdkitServer.start(dir, "-v", "-D", "nbdkit.tls.session=1", "--tls=require",
                "--tls-psk=" + psk, "memory", "size=4M")) {
            String uri = "nbds+unix://frank@/?socket=" + target.socket() + "&tls-psk-file=" + psk;
            List<String> keyDir = List.of("-Dblockferry.nbd.key-dir=" + keys);
            // connection 1: GnuTLS's own choice, as libnbd's nbdinfo makes it
            Process info = new ProcessBuilder(TestPeers.require("nbdinfo", "libnbd-bin"), "--size", uri)
                    .redirectErrorStream(true).start();
            String infoOut = new String(info.getInputStream().readAllBytes());
            assertEquals(0, info.waitFor(), infoOut);
            assertEquals(1, ciphers(target).size(), target.logText());
            String gnutlsChoice = ciphers(target).get(0);
            Path conf = dir.resolve("blockferry.conf"); // an operator's file, as the README shows it
            Files.writeString(conf, "include required(classpath(\"application.conf\"))\n"
                    + "blockferry.nbd.tls-ciphers = aes-gcm\n");
            Result aes = java(concat(keyDir, "-Dconfig.file=" + conf), "copy", image.toString(), uri);
            assertEquals(0, aes.code(), aes.err());
            List<String> copied = ciphers(target).subList(1, ciphers(target).size());
            assertFalse(copied.isEmpty(), target.logText());
            assertTrue(copied.stream().allMatch(c -> c.matches("AES-(128|256)-GCM")), "aes-gcm negotiated " + copied);
            int before = ciphers(target).size();
            Result plain = java(keyDir, java.util.Map.of("BLOCKFERRY_NBD_TLS_CIPHERS", "gnutls-default"), "verify",
                    image.toString(), uri);
            assertEquals(0, plain.code(), plain.err());
            List<String> verified = ciphers(target).subList(before, ciphers(target).size());
            assertFalse(verified.isEmpty(), target.logText());
            assertTrue(verified.stream().allMatch(gnutlsChoice::equals),
                    "gnutls-default negotiates what nbdinfo does (" + gnutlsChoice + "): " + verified);
            assertEquals(DiskChecksum.ofFile(image), DiskChecksum.ofUri(uri));

            Result bad = java(concat(keyDir, "-Dblockferry.nbd.tls-ciphers=NORMAL:+CHACHA20"), "copy",
                    image.toString(), uri);
            assertEquals(2, bad.code(), bad.err());
            assertEquals(1, bad.err().strip().lines().count(), bad.err());
            assertTrue(bad.err().contains("blockferry.nbd.tls-ciphers: must be auto, aes-gcm or gnutls-default,"
                    + " got 'NORMAL:+CHACHA20'"), bad.err());
        }
    }

    private static List<String> concat(List<String> a, String b) {
        List<String> all = new ArrayList<>(a);
        all.add(b);
        return all;
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
