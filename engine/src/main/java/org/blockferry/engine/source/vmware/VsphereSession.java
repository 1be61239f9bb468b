package org.blockferry.engine.source.vmware;

import java.io.IOException;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.source.vmware.vim.VimClient;
import org.blockferry.engine.source.vmware.vim.VimFault;
import org.blockferry.engine.source.vmware.vim.VsphereCredentials;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A logged-in vim25 session with a vCenter configured on the node: the password read from its
 * {@code password-file} now (a rotated password needs no restart), vCenter's certificate checked
 * as configured, every reply bounded by {@code blockferry.vmware.max-reply-bytes}, and every
 * failure to log in said in terms of the setting an operator fixes. Closing logs out.
 */
final class VsphereSession implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(VsphereSession.class);

    private final Vcenter vcenter;
    private final VsphereCredentials credentials;
    private final VimClient vim;

    private VsphereSession(Vcenter vcenter, VsphereCredentials credentials, VimClient vim) {
        this.vcenter = vcenter;
        this.credentials = credentials;
        this.vim = vim;
    }

    /** Reads the vCenter's password and logs in. */
    static VsphereSession open(Vcenter vcenter, long maxReplyBytes) throws IOException {
        VsphereCredentials credentials = vcenter.credentials();
        return new VsphereSession(vcenter, credentials, connect(vcenter, credentials, maxReplyBytes));
    }

    /** The credentials this session logged in with (VDDK logs in with the same). */
    VsphereCredentials credentials() {
        return credentials;
    }

    VimClient vim() {
        return vim;
    }

    /** Logs out; a failed logout only costs a session that vCenter expires by itself. */
    @Override
    public void close() {
        try {
            vim.close();
        } catch (IOException | RuntimeException e) {
            log.debug("event=vsphere-logout-failed vcenter={} error={}", vcenter.name(), e.getMessage());
        }
    }

    private static VimClient connect(Vcenter vc, VsphereCredentials credentials, long maxReplyBytes)
            throws IOException {
        try {
            return VimClient.connect(vc.url(), credentials, vc.tls(), maxReplyBytes);
        } catch (VimFault.InvalidLogin e) {
            throw new InvalidInputException(vc.key("user"), vc.describe() + " refused the login of '" + vc.user()
                    + "' (InvalidLogin: wrong user name or password; the password is read from "
                    + vc.key("password-file") + " at each login)");
        } catch (IOException e) {
            for (Throwable t = e; t != null; t = t.getCause()) {
                if (t instanceof javax.net.ssl.SSLException) { // not transient: retrying will not change the certificate
                    throw new InvalidInputException(vc.trustKey(), "the TLS handshake with " + vc.describe()
                            + " failed (" + t.getMessage() + "): " + (vc.thumbprint() != null
                            ? "vCenter's certificate does not match the pinned thumbprint"
                            : "vCenter's certificate is not trusted; pin it with " + vc.key("thumbprint")
                            + " or trust its CA with " + vc.key("trust-store")));
                }
            }
            if (e instanceof VimFault) {
                throw e;
            }
            throw new IOException("cannot reach " + vc.describe() + ": " + (e.getMessage() != null ? e.getMessage()
                    : e.getClass().getSimpleName()), e);
        }
    }
}
