package org.blockferry.engine.source.vmware;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.source.vmware.vim.VimTls;
import org.blockferry.engine.source.vmware.vim.VsphereCredentials;

/**
 * One vCenter configured on the node, {@code blockferry.vmware.vcenters.NAME}: where it is, who
 * logs in and how its certificate is trusted. Jobs name it ({@code source.vcenter}) and carry
 * none of this. At most one of {@code thumbprint}, {@code trustStore} and {@code insecure};
 * without any, the JVM's CAs decide.
 *
 * @param name               the name jobs use
 * @param url                its SDK endpoint, always https (the password travels in the SOAP Login)
 * @param user               the vSphere user
 * @param passwordFile       the file whose first line is the password, read at every login (a
 *                           rotated password needs no restart)
 * @param thumbprint         the SHA-256 thumbprint of its certificate, pinned; or null
 * @param trustStore         a PEM file or PKCS12 store of the CA certificates its certificate must chain
 *                           to (and name its host); or null
 * @param trustStorePassword the PKCS12 store's password (it guards the store's integrity, not a
 *                           secret of vCenter); null for PEM or a store written without one
 * @param insecure           no certificate check at all (needs {@code blockferry.vmware.allow-insecure})
 */
public record Vcenter(String name, URI url, String user, Path passwordFile, String thumbprint, Path trustStore,
                      String trustStorePassword, boolean insecure) {

    /** The configuration key of one of this vCenter's settings, for messages. */
    public String key(String setting) {
        return Vcenters.KEY + "." + name + "." + setting;
    }

    /** The vCenter as messages name it: its name and URL, never who logs in with what. */
    String describe() {
        return "vCenter " + name + " (" + url + ")";
    }

    /** The user and the password as the file holds it now. */
    VsphereCredentials credentials() {
        try {
            return VsphereCredentials.fromFile(user, passwordFile);
        } catch (IOException e) { // the path is the operator's to know, not a job's: the key says where
            throw new InvalidInputException(key("password-file"), "cannot be read (" + e.getClass().getSimpleName()
                    + ")");
        } catch (IllegalArgumentException e) {
            throw new InvalidInputException(key("password-file"), e.getMessage());
        }
    }

    /** How the session checks vCenter's certificate. */
    VimTls tls() throws IOException {
        try {
            if (thumbprint != null) {
                return VimTls.pinnedThumbprint(thumbprint);
            }
            if (trustStore != null) {
                return VimTls.trustStore(trustStore, trustStorePassword == null ? null : trustStorePassword.toCharArray());
            }
            return insecure ? VimTls.insecure() : VimTls.systemTrust();
        } catch (GeneralSecurityException e) {
            throw new InvalidInputException(trustKey(), "cannot set up TLS for " + url + ": " + e.getMessage());
        }
    }

    /** The setting that decides whether vCenter's certificate is trusted: the one to fix when it is not. */
    String trustKey() {
        return key(thumbprint != null ? "thumbprint" : trustStore != null ? "trust-store" : "url");
    }

    @Override
    public String toString() {
        return "Vcenter[" + name + " " + url + " user=" + user + " trust=" + (thumbprint != null ? "thumbprint"
                : trustStore != null ? "trust-store " + trustStore : insecure ? "insecure" : "system CAs") + "]";
    }
}
