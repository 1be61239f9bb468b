package org.blockferry.engine.endpoint;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Values read from the node's configuration (settings, an operator's named entries such as a
 * vCenter or a cloud), each refusal an {@link InvalidInputException} naming the full key.
 */
public final class ConfigValues {
    private ConfigValues() {
    }

    /** An absolute path to a regular file the node can read (a password or key file). */
    public static Path readableFile(String key, String value) {
        Path path = Path.of(value);
        if (!path.isAbsolute()) {
            throw new InvalidInputException(key, "'" + value + "' must be an absolute path");
        }
        if (!Files.isRegularFile(path) || !Files.isReadable(path)) {
            throw new InvalidInputException(key, value + " is not a readable file");
        }
        return path;
    }

    /** The duration at {@code key} of {@code c} (whose full key starts with {@code prefix}). */
    public static Duration duration(Config c, String prefix, String key) {
        try {
            return c.getDuration(key);
        } catch (ConfigException e) {
            throw new InvalidInputException(prefix + key, "must be a duration such as 10s (" + e.getMessage() + ")");
        }
    }

    /** {@code key} of {@code c} (whose full key starts with {@code prefix}), trimmed; null when empty and not required. */
    public static String string(Config c, String prefix, String key, boolean required) {
        try {
            String value = c.hasPath(key) ? c.getString(key).trim() : "";
            if (value.isEmpty() && required) {
                throw new InvalidInputException(prefix + key, "is required");
            }
            return value.isEmpty() ? null : value;
        } catch (ConfigException.WrongType e) {
            throw new InvalidInputException(prefix + key, "must be a string");
        }
    }
}
