package org.blockferry.nbd;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * Settings applied to a handle before it connects: a name for libnbd's debug output, TLS, and
 * the meta contexts to negotiate. URIs may name local files ({@code tls-psk-file}).
 *
 * @param tlsMode {@code null} leaves the mode to the URI scheme (nbds:// requires TLS)
 * @param tlsPskFile {@code null} unless a PSK key file is given outside the URI
 * @param tlsUsername {@code null} unless given outside the URI
 */
public record NbdOptions(String handleName, TlsMode tlsMode, Path tlsPskFile, String tlsUsername,
                         List<String> metaContexts) {

    public static final NbdOptions DEFAULT = new NbdOptions(null, null, null, null, List.of());

    public NbdOptions {
        metaContexts = List.copyOf(Objects.requireNonNull(metaContexts, "metaContexts"));
    }

    public NbdOptions withHandleName(String name) {
        return new NbdOptions(name, tlsMode, tlsPskFile, tlsUsername, metaContexts);
    }

    public NbdOptions withMetaContexts(List<String> contexts) {
        return new NbdOptions(handleName, tlsMode, tlsPskFile, tlsUsername, contexts);
    }

    public NbdOptions withTlsPsk(Path pskFile, String username) {
        return new NbdOptions(handleName, tlsMode, pskFile, username, metaContexts);
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
