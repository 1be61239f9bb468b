package org.blockferry.engine.source.vmware.vim;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.KeyStoreException;
import java.security.MessageDigest;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Collections;
import java.util.HexFormat;
import java.util.Locale;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * How the client trusts vCenter's certificate: the JDK's CAs, a CA trust store, a pinned
 * SHA-256 thumbprint, or (only when explicitly asked) nothing at all.
 */
public final class VimTls {
    private final String description;
    private final SSLContext context;

    private VimTls(String description, SSLContext context) {
        this.description = description;
        this.context = context;
    }

    /** The JDK's default CA certificates. */
    public static VimTls systemTrust() throws GeneralSecurityException {
        return new VimTls("system CAs", SSLContext.getDefault());
    }

    /**
     * The CA certificates in a PEM file (one or more {@code BEGIN CERTIFICATE} blocks) or a
     * PKCS12 store ({@code storePassword} null: a store written without one). The server's
     * certificate must chain to one of them and name the host it was reached at.
     */
    public static VimTls trustStore(Path file, char[] storePassword) throws IOException, GeneralSecurityException {
        byte[] bytes = Files.readAllBytes(file);
        KeyStore ks = KeyStore.getInstance("PKCS12");
        boolean pem = new String(bytes, 0, Math.min(bytes.length, 4096), StandardCharsets.US_ASCII)
                .contains("-----BEGIN CERTIFICATE-----");
        if (pem) {
            ks.load(null, null);
            int i = 0;
            for (Certificate c : CertificateFactory.getInstance("X.509")
                    .generateCertificates(new ByteArrayInputStream(bytes))) {
                ks.setCertificateEntry("ca-" + i++, c);
            }
        } else {
            ks.load(new ByteArrayInputStream(bytes), storePassword);
        }
        boolean any = false;
        for (String alias : Collections.list(ks.aliases())) {
            any |= ks.isCertificateEntry(alias);
        }
        if (!any) {
            throw new KeyStoreException(file + " holds no trusted certificate" + (pem ? ""
                    : " (a PKCS12 store's certificates may need the store's password to be read)"));
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        return new VimTls("trust store " + file, context(tmf.getTrustManagers()));
    }

    /** Trusts exactly the server certificate whose SHA-256 thumbprint is given (hex, colons optional). */
    public static VimTls pinnedThumbprint(String sha256) throws GeneralSecurityException {
        String want = sha256.replace(":", "").trim().toLowerCase(Locale.ROOT);
        if (!want.matches("[0-9a-f]{64}")) {
            throw new IllegalArgumentException("a SHA-256 thumbprint is 64 hex digits (colons allowed), got: " + sha256);
        }
        return new VimTls("pinned thumbprint", context(new TrustManager[] {new Pinned(want)}));
    }

    /** Accepts any certificate: only for labs, and only when the operator asks for it by name. */
    public static VimTls insecure() throws GeneralSecurityException {
        return new VimTls("insecure (no certificate check)", context(new TrustManager[] {new Pinned(null)}));
    }

    SSLContext sslContext() {
        return context;
    }

    @Override
    public String toString() {
        return description;
    }

    private static SSLContext context(TrustManager[] managers) throws GeneralSecurityException {
        SSLContext c = SSLContext.getInstance("TLS");
        c.init(null, managers, null);
        return c;
    }

    /** Checks only the leaf certificate's thumbprint (the pin replaces CA and host name checks); null accepts all. */
    private static final class Pinned extends X509ExtendedTrustManager {
        private final String thumbprint;

        Pinned(String thumbprint) {
            this.thumbprint = thumbprint;
        }

        private void check(X509Certificate[] chain) throws CertificateException {
            if (thumbprint == null) {
                return;
            }
            if (chain == null || chain.length == 0) {
                throw new CertificateException("vCenter sent no certificate");
            }
            try {
                String got = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(chain[0].getEncoded()));
                if (!got.equals(thumbprint)) {
                    throw new CertificateException("vCenter's certificate thumbprint " + got + " is not the pinned one " + thumbprint);
                }
            } catch (java.security.NoSuchAlgorithmException e) {
                throw new CertificateException(e);
            }
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            check(chain);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
            check(chain);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
            check(chain);
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            throw new CertificateException("client certificates are not checked here");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
            throw new CertificateException("client certificates are not checked here");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
            throw new CertificateException("client certificates are not checked here");
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }
}
