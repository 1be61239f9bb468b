package org.blockferry.engine.source.vmware;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.source.vmware.vim.VimClient;
import org.blockferry.engine.source.vmware.vim.VimFault;
import org.blockferry.engine.source.vmware.vim.VimTls;
import org.blockferry.engine.source.vmware.vim.VsphereCredentials;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A logged-in vim25 session with the vCenter of a job's source: the password read from
 * {@code source.password_file} or {@code source.password_env}, vCenter's certificate checked
 * against the pinned thumbprint, the system's CAs or (asked for by name) nothing, and every
 * failure to log in said in terms of the source field an operator fixes. Closing logs out.
 */
final class VsphereSession implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(VsphereSession.class);

    private final JobSpec.Source source;
    private final VsphereCredentials credentials;
    private final VimClient vim;

    private VsphereSession(JobSpec.Source source, VsphereCredentials credentials, VimClient vim) {
        this.source = source;
        this.credentials = credentials;
        this.vim = vim;
    }

    /** Reads the source's password and logs in. */
    static VsphereSession open(JobSpec.Source source) throws IOException {
        return open(source, credentials(source));
    }

    /** Logs in with credentials read before (a later session of the same job, e.g. a background removal). */
    static VsphereSession open(JobSpec.Source source, VsphereCredentials credentials) throws IOException {
        return new VsphereSession(source, credentials, connect(source, credentials));
    }

    JobSpec.Source source() {
        return source;
    }

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
            log.debug("event=vsphere-logout-failed error={}", e.getMessage());
        }
    }

    private static VsphereCredentials credentials(JobSpec.Source src) {
        try {
            return src.passwordFile() != null
                    ? VsphereCredentials.fromFile(src.user(), Path.of(src.passwordFile()))
                    : VsphereCredentials.fromEnvironment(src.user(), src.passwordEnv());
        } catch (IOException e) {
            throw new InvalidInputException("source.password_file", "cannot read " + src.passwordFile() + ": " + e);
        } catch (IllegalArgumentException e) {
            throw new InvalidInputException(src.passwordFile() != null ? "source.password_file" : "source.password_env",
                    e.getMessage());
        }
    }

    private static VimClient connect(JobSpec.Source src, VsphereCredentials credentials) throws IOException {
        URI sdk = URI.create(src.url());
        VimTls tls;
        try {
            tls = !"https".equals(sdk.getScheme()) ? null : src.thumbprint() != null
                    ? VimTls.pinnedThumbprint(src.thumbprint()) : src.insecure() ? VimTls.insecure() : VimTls.systemTrust();
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot set up TLS for " + sdk + ": " + e.getMessage(), e);
        }
        try {
            return VimClient.connect(sdk, credentials, tls);
        } catch (VimFault.InvalidLogin e) {
            throw new InvalidInputException("source.user", "vCenter " + sdk + " refused the login of '" + src.user()
                    + "' (InvalidLogin: wrong user name or password)");
        } catch (IOException e) {
            for (Throwable t = e; t != null; t = t.getCause()) {
                if (t instanceof javax.net.ssl.SSLException) { // not transient: retrying will not change the certificate
                    throw new InvalidInputException(src.thumbprint() != null ? "source.thumbprint" : "source.url",
                            "the TLS handshake with " + sdk + " failed (" + t.getMessage() + "): "
                            + (src.thumbprint() != null ? "vCenter's certificate does not match the pinned thumbprint"
                            : "vCenter's certificate is not trusted; pin it with source.thumbprint"));
                }
            }
            if (e instanceof VimFault) {
                throw e;
            }
            throw new IOException("cannot reach vCenter " + sdk + ": " + (e.getMessage() != null ? e.getMessage()
                    : e.getClass().getSimpleName()), e);
        }
    }
}
