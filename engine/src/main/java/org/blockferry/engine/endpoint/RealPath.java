package org.blockferry.engine.endpoint;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where a path really leads: the file itself with every symlink resolved when it exists, else
 * the real path of its nearest existing directory with the rest of the name appended (a target
 * that does not exist yet is checked where it will be created).
 *
 * @param real     the resolved path
 * @param exists   whether the path itself exists (following symlinks)
 * @param dangling whether the path itself is a symlink that leads nowhere
 */
record RealPath(Path real, boolean exists, boolean dangling) {

    /** Resolves {@code path} (absolute and normalized); an I/O error while resolving is thrown. */
    static RealPath of(Path path) throws IOException {
        Path absolute = path.toAbsolutePath().normalize();
        if (Files.exists(absolute)) {
            return new RealPath(absolute.toRealPath(), true, false);
        }
        boolean dangling = Files.isSymbolicLink(absolute);
        Path existing = absolute;
        Path rest = null;
        while (existing != null && !Files.exists(existing)) {
            Path name = existing.getFileName();
            rest = rest == null ? name : name.resolve(rest);
            existing = existing.getParent();
        }
        if (existing == null) {
            return new RealPath(absolute, false, dangling);
        }
        Path real = existing.toRealPath();
        return new RealPath(rest == null ? real : real.resolve(rest), false, dangling);
    }

    /** The real path of {@code path}, or the path itself (normalized) when it cannot be resolved. */
    static Path bestEffort(Path path) {
        try {
            return of(path).real();
        } catch (IOException e) {
            return path.toAbsolutePath().normalize();
        }
    }
}
