package org.blockferry.engine.endpoint;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Set;

/**
 * Where a disk is, as an operator writes it: an NBD URI or a local image path.
 * {@link #parse} checks the text and names the field when it is wrong.
 */
public sealed interface DiskLocation {

    Set<String> NBD_SCHEMES = Set.of("nbd", "nbds", "nbd+unix", "nbds+unix", "nbd+vsock", "nbds+vsock");

    /** What an operator reads in messages (never a secret). */
    String display();

    /**
     * What this location names, whatever its spelling: a local path with its directories'
     * symlinks resolved ({@code file:/real/dir/name}), an NBD URI with its defaults filled in
     * ({@code nbd://host:10809/export}, {@code nbd+unix:///export?socket=/real/path}). Two
     * spellings of one disk have one identity; it does not change when the file is created.
     */
    String identity();

    /**
     * Which incarnation of the disk this is: a local file's inode ({@code ino:N}, {@code absent}
     * before it exists), {@code uri} for an export. A change token made for one incarnation is
     * not valid for another (a replaced file).
     */
    String fingerprint();

    /** An NBD URI, passed to libnbd as is. */
    record NbdUri(String uri) implements DiskLocation {
        @Override
        public String display() {
            return uri;
        }

        @Override
        public String identity() {
            return LocationIdentity.ofUri(uri);
        }

        @Override
        public String fingerprint() {
            return "uri";
        }
    }

    /** A local raw or qcow2 image that BlockFerry exports itself. */
    record LocalImage(Path path) implements DiskLocation {
        @Override
        public String display() {
            return path.toString();
        }

        @Override
        public String identity() {
            return "file:" + LocationIdentity.realPath(path);
        }

        @Override
        public String fingerprint() {
            try {
                return java.nio.file.Files.exists(path) ? "ino:" + java.nio.file.Files.getAttribute(path, "unix:ino")
                        : "absent";
            } catch (java.io.IOException | UnsupportedOperationException e) {
                return "unknown";
            }
        }
    }

    /** The scheme of a {@link CloudVolume}'s text: what a job's {@code cloudstack} target fills in for each disk. */
    String CLOUDSTACK_SCHEME = "cloudstack://";

    /**
     * A CloudStack volume that BlockFerry creates, attaches to the node's appliance and writes in
     * place: {@code cloudstack://CLOUD/VOLUME-NAME}. A job never writes this itself: its
     * {@code target} says {@code {"kind": "cloudstack", "cloud": NAME}} and the node fills in
     * each disk's volume ({@link #parseExternal} refuses it elsewhere). The volume's id lives in the
     * target's lineage, so its identity is the cloud and the name, known before the volume exists.
     */
    record CloudVolume(String cloud, String name) implements DiskLocation {
        @Override
        public String display() {
            return CLOUDSTACK_SCHEME + cloud + "/" + name;
        }

        @Override
        public String identity() {
            return display();
        }

        /** A new volume resets the target's lineage in its TargetActor: the name is the incarnation. */
        @Override
        public String fingerprint() {
            return "volume";
        }
    }

    /** Parses {@code text} for {@code field} (e.g. {@code source}, {@code target}). */
    static DiskLocation parse(String field, String text) {
        if (text == null || text.isBlank()) {
            throw new InvalidInputException(field, "is empty; give an NBD URI (nbd://host:port/export, "
                    + "nbd+unix:///?socket=PATH) or a local image path");
        }
        if (text.startsWith(CLOUDSTACK_SCHEME)) {
            String rest = text.substring(CLOUDSTACK_SCHEME.length());
            int slash = rest.indexOf('/');
            if (slash <= 0 || slash == rest.length() - 1 || rest.indexOf('/', slash + 1) >= 0) {
                throw new InvalidInputException(field, "'" + text + "' must be cloudstack://CLOUD/VOLUME-NAME");
            }
            return new CloudVolume(rest.substring(0, slash), rest.substring(slash + 1));
        }
        if (!text.contains("://")) {
            if (text.indexOf('\0') >= 0) {
                throw new InvalidInputException(field, "the path contains a NUL character");
            }
            try {
                return new LocalImage(Path.of(text).toAbsolutePath().normalize());
            } catch (InvalidPathException e) {
                throw new InvalidInputException(field, "'" + text + "' is not a valid path: " + e.getReason());
            }
        }
        return new NbdUri(checkNbdUri(field, text));
    }

    /**
     * What a client may name as a disk's source or target: an NBD URI or a local path. A
     * CloudStack volume is refused naming {@code field}: it is the job's target kind.
     */
    static DiskLocation parseExternal(String field, String text) {
        DiskLocation location = parse(field, text);
        if (location instanceof CloudVolume) {
            throw new InvalidInputException(field, "'" + text + "' is not an NBD URI or a local path; a CloudStack"
                    + " volume is written through the job's target: \"target\": {\"kind\": \"cloudstack\","
                    + " \"cloud\": NAME} (the node creates and names the volumes)");
        }
        return location;
    }

    private static String checkNbdUri(String field, String text) {
        URI uri;
        try {
            uri = new URI(text);
        } catch (URISyntaxException e) {
            throw new InvalidInputException(field, "'" + text + "' is not a valid URI: " + e.getReason()
                    + " at index " + e.getIndex());
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase();
        if (!NBD_SCHEMES.contains(scheme)) {
            throw new InvalidInputException(field, "unsupported URI scheme '" + scheme
                    + "://' (expected nbd://, nbds://, nbd+unix:// or nbds+unix://)");
        }
        String query = uri.getRawQuery() == null ? "" : uri.getRawQuery();
        if (scheme.endsWith("+unix")) {
            if (!("&" + query).contains("&socket=")) {
                throw new InvalidInputException(field, "'" + text + "' names no unix socket: add ?socket=/path/to.sock");
            }
            if (uri.getHost() != null && !uri.getHost().isEmpty()) {
                throw new InvalidInputException(field, "'" + text + "' is a unix-socket URI and must not name a host "
                        + "(write " + scheme + ":///export?socket=...)");
            }
        } else if (!scheme.endsWith("+vsock")) {
            if (uri.getHost() == null || uri.getHost().isEmpty()) {
                throw new InvalidInputException(field, "'" + text + "' names no host (nbd://HOST[:PORT]/EXPORT)");
            }
            if (uri.getPort() == 0 || uri.getPort() > 65535) {
                throw new InvalidInputException(field, "'" + text + "' has an invalid port " + uri.getPort());
            }
        }
        return text;
    }
}
