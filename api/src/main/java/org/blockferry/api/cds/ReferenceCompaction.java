package org.blockferry.api.cds;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigRenderOptions;
import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Objects;
import java.util.zip.ZipFile;

/**
 * A build step (run by Maven on the shaded jar, {@code package} phase, after
 * {@link ClassFileUpgrade}): rewrites the jar's {@code reference.conf} — the defaults of Pekko and
 * its modules, Slick, pekko-persistence-jdbc and BlockFerry, appended into one file by the shade,
 * about three quarters of it comments — as the same configuration without comments, its includes
 * inlined.
 *
 * <p>Why: every process parses that file before its actor system can start ({@code copy} and
 * {@code verify} on their critical path). Parsing the 364 KB took 66–85 ms of one thread on the
 * 2-core benchmark machine, the 87 KB without comments 26–36 ms (bench/README.md).
 *
 * <p>Nothing else changes: the rewritten text is parsed again before it replaces the jar, and the
 * build fails unless that configuration — unresolved, so every substitution and environment
 * override is part of the comparison — equals the original's. The documented defaults stay where
 * operators read them: {@code config/src/main/resources/reference.conf} and each library's jar.
 */
public final class ReferenceCompaction {
    static final String RESOURCE = "reference.conf";
    /** The first line of a compacted file (how a second run knows there is nothing to do). */
    static final String HEADER = "# Comments removed at build time for start-up (ReferenceCompaction): the documented"
            + " defaults are config/src/main/resources/reference.conf and each library's own reference.conf.\n";

    private ReferenceCompaction() {
    }

    /** {@code ReferenceCompaction JAR}: the jar, rewritten in place; prints the sizes. */
    public static void main(String[] args) throws IOException {
        Path jar = JarRewrite.onlyJar(args, "ReferenceCompaction");
        long before = entrySize(jar);
        boolean changed = compact(jar);
        System.out.println("[reference-compaction] " + jar.getFileName() + ": " + RESOURCE + " "
                + (changed ? before + " -> " + entrySize(jar) + " bytes, parsed again and equal" : "already compact"));
    }

    /**
     * Rewrites {@code jar} in place with its {@code reference.conf} compacted and proved equal;
     * false when it was compact already (the jar is left untouched).
     */
    public static boolean compact(Path jar) throws IOException {
        String text;
        try (ZipFile zip = new ZipFile(jar.toFile())) {
            var entry = zip.getEntry(RESOURCE);
            if (entry == null) {
                throw new IllegalStateException(jar + " has no " + RESOURCE);
            }
            text = new String(zip.getInputStream(entry).readAllBytes(), StandardCharsets.UTF_8);
        }
        if (text.startsWith(HEADER)) {
            return false;
        }
        String compacted;
        try (URLClassLoader loader = new URLClassLoader(new URL[]{jar.toUri().toURL()},
                ClassLoader.getPlatformClassLoader())) {
            // Parsed as the processes parse it: from the class path, so that its includes resolve.
            ConfigObject original = ConfigFactory.parseResources(loader, RESOURCE,
                    ConfigParseOptions.defaults().setAllowMissing(false)).root();
            compacted = HEADER + render(original);
            proveEqual(original, compacted);
        }
        Path out = jar.resolveSibling(jar.getFileName() + ".compacting");
        byte[] bytes = compacted.getBytes(StandardCharsets.UTF_8);
        JarRewrite.copy(jar, out, (name, entry) -> name.equals(RESOURCE) ? bytes : entry);
        Files.move(out, jar, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return true;
    }

    /** HOCON without comments: one setting per line, substitutions and merges as they were written. */
    static String render(ConfigObject config) {
        return config.render(ConfigRenderOptions.defaults()
                .setComments(false).setOriginComments(false).setJson(false).setFormatted(true));
    }

    /** Throws unless {@code compacted} parses to exactly {@code original} (unresolved). */
    static void proveEqual(ConfigObject original, String compacted) {
        Config again = ConfigFactory.parseString(compacted);
        if (!again.root().equals(original)) {
            String differs = original.keySet().stream()
                    .filter(k -> !Objects.equals(original.get(k), again.root().get(k)))
                    .findFirst()
                    .orElseGet(() -> again.root().keySet().stream().filter(k -> !original.containsKey(k))
                            .findFirst().orElse("(the root)"));
            throw new IllegalStateException("the compacted " + RESOURCE + " does not parse to the original: '"
                    + differs + "' differs");
        }
    }

    private static long entrySize(Path jar) throws IOException {
        try (ZipFile zip = new ZipFile(jar.toFile())) {
            var entry = zip.getEntry(RESOURCE);
            return entry == null ? -1 : entry.getSize();
        }
    }
}
