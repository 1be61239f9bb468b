package org.blockferry.api.http;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Set;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.endpoint.SecretFile;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The API token {@code blockferry serve} uses when none is configured: generated at the first
 * start into {@code DATA_DIR/api-token} (mode 0600), read from there at every later start. Its
 * {@code toString} never shows the token.
 */
public final class ApiToken {
    /** The file's name in the data directory. */
    public static final String FILE_NAME = "api-token";
    private static final Logger log = LoggerFactory.getLogger(ApiToken.class);
    private static final Set<PosixFilePermission> OWNER_ONLY_DIR = PosixFilePermissions.fromString("rwx------");

    private final String value;
    private final Path file;
    private final boolean generated;

    private ApiToken(String value, Path file, boolean generated) {
        this.value = value;
        this.file = file;
        this.generated = generated;
    }

    /** A new random token: 32 bytes from {@link SecureRandom}, as 64 hex digits (for tests and tools). */
    public static String generate() {
        byte[] bytes = new byte[32];
        new SecureRandom().nextBytes(bytes);
        return HexFormat.of().formatHex(bytes);
    }

    /**
     * The token in {@code dataDir}'s {@value #FILE_NAME}, generated there first when it does not
     * exist (the directory is created with mode 0700 when missing). A file that other users may
     * read, or that is not a regular file, is refused: its token may be known to others.
     */
    public static ApiToken inDataDir(Path dataDir) throws IOException {
        Path dir = dataDir.toAbsolutePath();
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(OWNER_ONLY_DIR));
        } else if (!Files.isDirectory(dir)) {
            throw new InvalidInputException("blockferry.data-dir", dir + " is not a directory");
        } else if (!Files.getPosixFilePermissions(dir).stream().allMatch(OWNER_ONLY_DIR::contains)) {
            log.warn("event=data-dir-open-to-others dir={} mode={} advice=\"chmod 700 it\"", dir,
                    PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)));
        }
        Path file = dir.resolve(FILE_NAME);
        SecretFile.Made made;
        try {
            made = SecretFile.readOrCreate(file);
        } catch (IOException e) {
            throw new InvalidInputException("blockferry.http.token", e.getMessage()
                    + "; or set blockferry.http.token-file");
        }
        if (made.created()) {
            log.info("event=api-token-generated file={}", file);
        }
        if (made.secret().length() < HttpSettings.MIN_TOKEN_LENGTH) {
            throw new InvalidInputException("blockferry.http.token", file + " holds no token of at least "
                    + HttpSettings.MIN_TOKEN_LENGTH + " characters; remove it to have a new one generated");
        }
        return new ApiToken(made.secret(), file, made.created());
    }

    /** The token itself: give it only to {@link HttpSettings#withToken}. */
    public String value() {
        return value;
    }

    public Path file() {
        return file;
    }

    /** Whether this start generated the token (else it was read from {@link #file()}). */
    public boolean generated() {
        return generated;
    }

    @Override
    public String toString() {
        return "ApiToken[" + file + (generated ? ", generated" : "") + "]";
    }
}
