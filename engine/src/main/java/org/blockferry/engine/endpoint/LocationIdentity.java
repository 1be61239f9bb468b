package org.blockferry.engine.endpoint;

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/** How {@link DiskLocation#identity()} is worked out: real paths, and NBD URIs with their defaults. */
final class LocationIdentity {
    /** The IANA port of NBD, which an {@code nbd://} URI without a port means. */
    static final int NBD_PORT = 10809;

    private LocationIdentity() {
    }

    /**
     * The real path of {@code path}: of the file itself when it exists, else of the nearest
     * existing directory above it with the rest appended (the identity of a target is the same
     * before and after the first sync creates it).
     */
    static String realPath(Path path) {
        return RealPath.bestEffort(path).toString();
    }

    /**
     * {@code nbd[s][+unix|+vsock]://host[:port]/export[?socket=PATH]} as
     * {@code nbd[+unix|+vsock]://host:port/export[?socket=REALPATH]}: TLS or not is the same
     * export, the host is case-insensitive, the port defaults to 10809, other query options
     * (TLS files, ...) do not change which export it is.
     */
    static String ofUri(String text) {
        URI uri;
        try {
            uri = new URI(text);
        } catch (URISyntaxException e) {
            return text; // parse() refused it already; nothing better to say
        }
        String scheme = uri.getScheme().toLowerCase(Locale.ROOT).replace("nbds", "nbd");
        String path = uri.getPath() == null ? "" : uri.getPath();
        String export = path.startsWith("/") ? path.substring(1) : path;
        if (scheme.endsWith("+unix")) {
            String socket = queryValue(uri.getRawQuery(), "socket");
            return scheme + ":///" + export + "?socket=" + (socket == null ? "" : realPath(Path.of(socket)));
        }
        String host = uri.getHost() == null ? "" : uri.getHost().toLowerCase(Locale.ROOT);
        int port = uri.getPort() < 0 ? NBD_PORT : uri.getPort();
        return scheme + "://" + host + ":" + port + "/" + export;
    }

    private static String queryValue(String rawQuery, String key) {
        if (rawQuery == null) {
            return null;
        }
        for (String pair : rawQuery.split("&")) {
            int eq = pair.indexOf('=');
            if (eq > 0 && pair.substring(0, eq).equals(key)) {
                return URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
            }
        }
        return null;
    }
}
