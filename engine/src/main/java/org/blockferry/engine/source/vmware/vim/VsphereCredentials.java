package org.blockferry.engine.source.vmware.vim;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;

/** A vCenter user name and password; the password never appears in toString, logs or messages. */
public final class VsphereCredentials {
    private final String user;
    private final String password;

    private VsphereCredentials(String user, String password) {
        if (user == null || user.isBlank()) {
            throw new IllegalArgumentException("the vSphere user name is empty");
        }
        if (password == null || password.isEmpty()) {
            throw new IllegalArgumentException("the vSphere password for " + user + " is empty");
        }
        this.user = user;
        this.password = password;
    }

    /**
     * Reads the password from the first line of a file (e.g. a mounted secret). There is no
     * way from an environment variable: the node's child processes inherit its environment.
     */
    public static VsphereCredentials fromFile(String user, Path passwordFile) throws IOException {
        return new VsphereCredentials(user, org.blockferry.engine.endpoint.SecretFile.firstLine(passwordFile));
    }

    /** For tests and callers that already hold the secret. */
    public static VsphereCredentials of(String user, String password) {
        return new VsphereCredentials(user, password);
    }

    public String user() {
        return user;
    }

    String password() {
        return password;
    }

    /**
     * Writes the password, and nothing else, to a new file readable only by this user: for
     * programs that take it as {@code password=+FILE} ({@code nbdkit vddk}), so it is never in a
     * process's arguments. Fails if the file exists.
     */
    public void writePasswordFile(Path file) throws IOException {
        Files.createFile(file, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
        Files.writeString(file, password, StandardCharsets.UTF_8);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof VsphereCredentials c && c.user.equals(user) && c.password.equals(password);
    }

    @Override
    public int hashCode() {
        return Objects.hash(user);
    }

    @Override
    public String toString() {
        return "VsphereCredentials[user=" + user + ", password=***]";
    }
}
