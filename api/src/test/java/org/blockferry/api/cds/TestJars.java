package org.blockferry.api.cds;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

/** Small jars for the build steps' tests. */
final class TestJars {
    private TestJars() {
    }

    /** A new jar in {@code dir} holding {@code entries}, in their map's order. */
    static Path jar(Path dir, Map<String, byte[]> entries) throws IOException {
        Path jar = Files.createTempFile(dir, "app", ".jar");
        try (ZipOutputStream z = new ZipOutputStream(Files.newOutputStream(jar))) {
            for (var e : entries.entrySet()) {
                z.putNextEntry(new ZipEntry(e.getKey()));
                z.write(e.getValue());
                z.closeEntry();
            }
        }
        return jar;
    }

    /** The bytes of one entry of {@code jar}. */
    static byte[] entry(Path jar, String name) throws IOException {
        try (ZipFile z = new ZipFile(jar.toFile())) {
            return z.getInputStream(z.getEntry(name)).readAllBytes();
        }
    }
}
