package org.blockferry.engine.endpoint;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Set;

/**
 * A secret kept in a file (a mounted secret, a password file): its first line is the secret.
 * Secrets the node makes for itself (the embedded database's password, the API token) are
 * created here: random, in a file only its owner can read, in a directory only its owner can enter.
 */
public final class SecretFile {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");
    private static final Set<PosixFilePermission> OWNER_DIR = PosixFilePermissions.fromString("rwx------");

    private SecretFile() {
    }

    /**
     * The secret in {@code file}, made first if the file does not exist: 32 random bytes, base64url,
     * written to a temporary file of mode 0600 and linked into place (link(2) never replaces a file:
     * two processes starting at once read the same secret). The directory is created with mode 0700
     * when missing. An existing file must be a regular file only its owner may read: otherwise the
     * secret may be known to others, and this fails saying so.
     *
     * @return the secret, and whether this call made it
     */
    public static Made readOrCreate(Path file) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        ownerOnlyDirectory(dir, false);
        if (!Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
            byte[] bytes = new byte[32];
            RANDOM.nextBytes(bytes);
            String secret = Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
            Path tmp = Files.createTempFile(dir, "." + file.getFileName() + "-", ".new",
                    PosixFilePermissions.asFileAttribute(OWNER_ONLY));
            try {
                Files.writeString(tmp, secret + "\n", StandardCharsets.UTF_8);
                Files.createLink(file, tmp);
                return new Made(secret, true);
            } catch (java.nio.file.FileAlreadyExistsException e) {
                // another process was first: use its secret
            } finally {
                Files.deleteIfExists(tmp);
            }
        }
        if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException(file + " is not a regular file");
        }
        Set<PosixFilePermission> mode = Files.getPosixFilePermissions(file, LinkOption.NOFOLLOW_LINKS);
        if (!OWNER_ONLY.containsAll(mode)) {
            throw new IOException(file + " may be read by other users (mode " + PosixFilePermissions.toString(mode)
                    + "): its secret may be known; remove the file to have a new one made (or chmod 600 it)");
        }
        return new Made(firstLine(file).strip(), false);
    }

    /** A secret read from, or just made in, its file. */
    public record Made(String secret, boolean created) {
        @Override
        public String toString() {
            return "Made[created=" + created + "]"; // never the secret
        }
    }

    /**
     * Creates {@code dir} with mode 0700 when it is missing; with {@code narrow}, also narrows an
     * existing one to 0700 (for the node's own data directory, not for a directory it merely uses).
     */
    public static void ownerOnlyDirectory(Path dir, boolean narrow) throws IOException {
        if (!Files.isDirectory(dir)) {
            Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(OWNER_DIR));
            Files.setPosixFilePermissions(dir, OWNER_DIR); // the umask may have widened it
        } else if (narrow) {
            Files.setPosixFilePermissions(dir, OWNER_DIR);
        }
    }

    /** Narrows {@code file} to mode 0600 if it exists. */
    public static void ownerOnly(Path file) throws IOException {
        if (Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
            Files.setPosixFilePermissions(file, OWNER_ONLY);
        }
    }

    /** The first line of {@code file} without its line end ({@code \n} or {@code \r\n}); empty for an empty file. */
    public static String firstLine(Path file) throws IOException {
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line = in.readLine();
            return line == null ? "" : line;
        }
    }
}
