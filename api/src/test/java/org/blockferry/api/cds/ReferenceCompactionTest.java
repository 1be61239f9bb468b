package org.blockferry.api.cds;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.Test;

/** The build step that strips the jar's reference.conf of its comments: same configuration, proved. */
class ReferenceCompactionTest {
    private final Path dir = TestPeers.scratchDirectory("reference-compaction-");

    /** What the shade appends: comments, an include, substitutions, environment overrides, += and merges. */
    private static final String REFERENCE = """
            # Library one.
            # A long comment that the compacted file leaves out.
            lib {
              // the pool
              size = 4
              size = ${?COMPACTION_TEST_UNSET_VARIABLE}
              timeout = 30s
              derived = ${lib.size}
              name = "a \\"quoted\\" value # not a comment"
              list = [1, 2]
              list += 3
              nested { a = 1, b = "x" }
            }
            include "version"
            # Library two, appended later, overriding one of library one's settings.
            lib.nested { b = "y", c = ${lib.timeout} }
            other = ${?lib.missing}
            """;

    private Path jarWithReference() throws Exception {
        Map<String, byte[]> entries = new LinkedHashMap<>();
        entries.put("a/First.txt", "first".getBytes(StandardCharsets.UTF_8));
        entries.put("reference.conf", REFERENCE.getBytes(StandardCharsets.UTF_8));
        entries.put("version.conf", "lib.version = \"1.2.3\"\n".getBytes(StandardCharsets.UTF_8));
        entries.put("z/Last.bin", new byte[]{0, 1, 2, (byte) 0xff});
        return TestJars.jar(dir, entries);
    }

    /**
     * The configuration a process reads from {@code jar}: its reference.conf, resolved. Read from a
     * copy at a new path: the JDK caches an opened jar by its URL, and would answer from the jar
     * as it was before the step replaced it.
     */
    private Config resolvedReference(Path jar) throws Exception {
        Path fresh = Files.copy(jar, Files.createTempFile(dir, "read", ".jar"), StandardCopyOption.REPLACE_EXISTING);
        try (URLClassLoader loader = new URLClassLoader(new URL[]{fresh.toUri().toURL()},
                ClassLoader.getPlatformClassLoader())) {
            return ConfigFactory.parseResources(loader, "reference.conf").resolve();
        }
    }

    @Test
    void theCompactedFileHasNoCommentsAndResolvesToTheSameConfiguration() throws Exception {
        Path jar = jarWithReference();
        Config before = resolvedReference(jar);

        assertTrue(ReferenceCompaction.compact(jar));

        String compacted = new String(TestJars.entry(jar, "reference.conf"), StandardCharsets.UTF_8);
        assertTrue(compacted.startsWith(ReferenceCompaction.HEADER), compacted);
        String body = compacted.substring(ReferenceCompaction.HEADER.length());
        assertFalse(body.contains("Library one") || body.contains("the pool") || body.contains("//"), body);
        assertFalse(body.contains("include"), "the include is inlined: " + body);
        Config after = resolvedReference(jar);
        assertEquals(before.root(), after.root());
        // The values themselves, so that a parse that lost the same thing twice cannot pass.
        assertEquals(4, after.getInt("lib.size"));
        assertEquals(4, after.getInt("lib.derived"));
        assertEquals("a \"quoted\" value # not a comment", after.getString("lib.name"));
        assertEquals(List.of(1, 2, 3), after.getIntList("lib.list"));
        assertEquals("y", after.getString("lib.nested.b"));
        assertEquals("30s", after.getString("lib.nested.c"));
        assertEquals(1, after.getInt("lib.nested.a"));
        assertEquals("1.2.3", after.getString("lib.version"));
        assertFalse(after.hasPath("other"));
        // The environment override is still a substitution, not its value at build time.
        assertTrue(body.contains("${?COMPACTION_TEST_UNSET_VARIABLE}"), body);
        // Every other entry as it was, in its place.
        assertArrayEquals("first".getBytes(StandardCharsets.UTF_8), TestJars.entry(jar, "a/First.txt"));
        assertArrayEquals(new byte[]{0, 1, 2, (byte) 0xff}, TestJars.entry(jar, "z/Last.bin"));
        try (var zip = new java.util.zip.ZipFile(jar.toFile())) {
            assertEquals(List.of("a/First.txt", "reference.conf", "version.conf", "z/Last.bin"),
                    zip.stream().map(java.util.zip.ZipEntry::getName).toList());
        }
    }

    @Test
    void aSecondRunLeavesTheJarUntouched() throws Exception {
        Path jar = jarWithReference();
        assertTrue(ReferenceCompaction.compact(jar));
        byte[] once = Files.readAllBytes(jar);

        assertFalse(ReferenceCompaction.compact(jar));

        assertArrayEquals(once, Files.readAllBytes(jar));
    }

    @Test
    void aRenderingThatDoesNotParseBackToTheOriginalFailsNamingTheSetting() throws Exception {
        Path jar = jarWithReference();
        try (URLClassLoader loader = new URLClassLoader(new URL[]{jar.toUri().toURL()},
                ClassLoader.getPlatformClassLoader())) {
            var original = ConfigFactory.parseResources(loader, "reference.conf").root();
            String wrong = ReferenceCompaction.render(original).replace("30s", "31s");

            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> ReferenceCompaction.proveEqual(original, wrong));

            assertTrue(e.getMessage().contains("'lib' differs"), e.getMessage());
            ReferenceCompaction.proveEqual(original, ReferenceCompaction.render(original)); // the real one passes
        }
    }

    @Test
    void aJarWithoutReferenceConfFailsAndIsLeftAsItWas() throws Exception {
        Path jar = TestJars.jar(dir, Map.of("a.txt", new byte[]{1}));
        byte[] before = Files.readAllBytes(jar);

        IllegalStateException e = assertThrows(IllegalStateException.class, () -> ReferenceCompaction.compact(jar));

        assertTrue(e.getMessage().contains("has no reference.conf"), e.getMessage());
        assertArrayEquals(before, Files.readAllBytes(jar));
        try (var files = Files.list(dir)) {
            assertEquals(List.of(jar), files.toList(), "no temporary file is left");
        }
    }
}
