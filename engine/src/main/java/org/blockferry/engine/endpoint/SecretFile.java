package org.blockferry.engine.endpoint;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** A secret kept in a file (a mounted secret, a password file): its first line is the secret. */
public final class SecretFile {
    private SecretFile() {
    }

    /** The first line of {@code file} without its line end ({@code \n} or {@code \r\n}); empty for an empty file. */
    public static String firstLine(Path file) throws IOException {
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line = in.readLine();
            return line == null ? "" : line;
        }
    }
}
