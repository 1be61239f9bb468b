package org.blockferry.nbd;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * Settings applied to a handle before it connects: a name for libnbd's debug output, TLS, and
 * the meta contexts to negotiate. URIs may name local files ({@code tls-psk-file}).
 *
 * @param tlsMode {@code null} leaves the mode to the URI scheme (nbds:// requires TLS)
 * @param tlsPskFile {@code null} unless a PSK key file is given outside the URI
 * @param tlsUsername {@code null} unless given outside the URI
 * @param connectTimeout how long connecting and the handshake may take: a server that accepts
 *                       the connection but never answers fails it then, not never
 * @param connectCheck {@code null}, or what must hold after every connect before the connection
 *                     is used (see {@link ConnectCheck})
 */
public record NbdOptions(String handleName, TlsMode tlsMode, Path tlsPskFile, String tlsUsername,
                         List<String> metaContexts, Duration connectTimeout, ConnectCheck connectCheck) {

    /**
     * Runs after each successful connect (the server has opened its export for this connection),
     * before {@link NbdConnection#open} returns the connection. Throwing refuses the server: the
     * connection is closed and the exception reaches the caller. A local export uses it to verify
     * that its server still holds only the file that was checked.
     */
    @FunctionalInterface
    public interface ConnectCheck {
        void connected();
    }

    /** Two minutes: room for a slow plugin open (VDDK's, through nbdkit vddk), never forever. */
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofMinutes(2);
    public static final NbdOptions DEFAULT = new NbdOptions(null, null, null, null, List.of(), DEFAULT_CONNECT_TIMEOUT,
            null);

    public NbdOptions {
        metaContexts = List.copyOf(Objects.requireNonNull(metaContexts, "metaContexts"));
        Objects.requireNonNull(connectTimeout, "connectTimeout");
        if (connectTimeout.isNegative() || connectTimeout.isZero()) {
            throw new IllegalArgumentException("the connect timeout must be positive, got " + connectTimeout);
        }
    }

    public NbdOptions withHandleName(String name) {
        return new NbdOptions(name, tlsMode, tlsPskFile, tlsUsername, metaContexts, connectTimeout, connectCheck);
    }

    public NbdOptions withMetaContexts(List<String> contexts) {
        return new NbdOptions(handleName, tlsMode, tlsPskFile, tlsUsername, contexts, connectTimeout, connectCheck);
    }

    public NbdOptions withTlsPsk(Path pskFile, String username) {
        return new NbdOptions(handleName, tlsMode, pskFile, username, metaContexts, connectTimeout, connectCheck);
    }

    public NbdOptions withConnectTimeout(Duration timeout) {
        return new NbdOptions(handleName, tlsMode, tlsPskFile, tlsUsername, metaContexts, timeout, connectCheck);
    }

    public NbdOptions withConnectCheck(ConnectCheck check) {
        return new NbdOptions(handleName, tlsMode, tlsPskFile, tlsUsername, metaContexts, connectTimeout, check);
    }

    void applyTo(NbdConnection c) throws NbdException {
        c.setUriAllowLocalFile(true);
        if (handleName != null) {
            c.setHandleName(handleName);
        }
        if (tlsMode != null) {
            c.setTls(tlsMode);
        }
        if (tlsPskFile != null) {
            c.setTlsPskFile(tlsPskFile);
        }
        if (tlsUsername != null) {
            c.setTlsUsername(tlsUsername);
        }
        for (String context : metaContexts) {
            c.addMetaContext(context);
        }
    }
}
