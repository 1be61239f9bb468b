package org.blockferry.api.cds;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import java.util.zip.ZipOutputStream;

/** The build steps' way of changing a jar: entry by entry into a new file, names, order and times kept. */
final class JarRewrite {
    /** What becomes of one entry's bytes (the same array: unchanged). */
    @FunctionalInterface
    interface EntryChange {
        byte[] apply(String name, byte[] bytes) throws IOException;
    }

    private JarRewrite() {
    }

    /** A build step's one argument, the jar it changes ({@code step}: its name, for the usage line). */
    static Path onlyJar(String[] args, String step) {
        if (args.length != 1) {
            throw new IllegalArgumentException("usage: " + step + " JAR");
        }
        return Path.of(args[0]);
    }

    /** {@code jar} copied to {@code out} with every entry's bytes through {@code change}; {@code out} is removed on failure. */
    static void copy(Path jar, Path out, EntryChange change) throws IOException {
        try (ZipInputStream in = new ZipInputStream(Files.newInputStream(jar));
             ZipOutputStream zip = new ZipOutputStream(Files.newOutputStream(out))) {
            ZipEntry entry;
            while ((entry = in.getNextEntry()) != null) {
                byte[] bytes = change.apply(entry.getName(), in.readAllBytes());
                ZipEntry copy = new ZipEntry(entry.getName());
                copy.setTime(entry.getTime());
                zip.putNextEntry(copy);
                zip.write(bytes);
                zip.closeEntry();
            }
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(out);
            throw e;
        }
    }
}
