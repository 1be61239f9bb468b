package org.blockferry.engine.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * What a directory tree looks like: every entry's name, type, size, mode, mtime, and for regular
 * files a digest of the contents. Two snapshots are equal only if nothing in the tree changed: the
 * proof a refused job wrote nothing outside the allowed roots.
 */
public record FileTree(Path root, Map<String, String> entries) {

    public static FileTree of(Path root) {
        Map<String, String> entries = new TreeMap<>();
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path p : (Iterable<Path>) paths::iterator) {
                PosixFileAttributes a = Files.readAttributes(p, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                String type = a.isSymbolicLink() ? "link->" + Files.readSymbolicLink(p) : a.isDirectory() ? "dir"
                        : a.isRegularFile() ? "file" : "other";
                entries.put(root.relativize(p).toString(), type + " size=" + a.size() + " mode="
                        + PosixFilePermissions.toString(a.permissions()) + " mtime=" + a.lastModifiedTime().toMillis()
                        + (a.isRegularFile() ? " sha256=" + digest(p) : ""));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new FileTree(root, entries);
    }

    private static String digest(Path file) throws IOException {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            try (var in = Files.newInputStream(file)) {
                byte[] buffer = new byte[1 << 16];
                for (int n; (n = in.read(buffer)) > 0; ) {
                    md.update(buffer, 0, n);
                }
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }
}
