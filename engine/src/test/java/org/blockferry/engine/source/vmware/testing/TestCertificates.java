package org.blockferry.engine.source.vmware.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.cert.X509Certificate;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

/** Certificates for TLS tests: made by the JDK's keytool, or read from a server with a handshake that trusts anything. */
public final class TestCertificates {
    private static final String STORE_PASSWORD = "changeit";

    private TestCertificates() {
    }

    /**
     * A new self-signed certificate for {@code 127.0.0.1} with its key, in a PKCS12 store
     * (password {@link #storePassword()}) under alias {@code server}.
     */
    public static Path serverKeyStore(Path dir, String name) {
        Path store = dir.resolve(name + ".p12");
        delete(store);
        keytool("-genkeypair", "-alias", "server", "-keyalg", "EC", "-groupname", "secp256r1", "-dname",
                "CN=" + name, "-ext", "san=ip:127.0.0.1", "-ext", "bc:c", "-validity", "2", "-keystore",
                store.toString(), "-storepass", STORE_PASSWORD, "-storetype", "PKCS12");
        return store;
    }

    public static char[] storePassword() {
        return STORE_PASSWORD.toCharArray();
    }

    /** A new CA certificate (its key thrown away) as a PEM file. */
    public static Path caPem(Path dir, String name) {
        Path store = serverKeyStore(dir, name);
        Path pem = dir.resolve(name + ".pem");
        delete(pem);
        keytool("-exportcert", "-rfc", "-alias", "server", "-keystore", store.toString(), "-storepass",
                STORE_PASSWORD, "-file", pem.toString());
        return pem;
    }

    /** The certificate the server at {@code https} presents, as PEM. */
    public static String serverPem(URI https) {
        byte[] der = serverCertificate(https);
        return "-----BEGIN CERTIFICATE-----\n" + Base64.getMimeEncoder(64, "\n".getBytes()).encodeToString(der)
                + "\n-----END CERTIFICATE-----\n";
    }

    /** The SHA-256 thumbprint of the certificate the server at {@code https} presents (hex, colon separated). */
    /** The SHA-1 of the certificate the server presents, as nbdkit vddk's {@code thumbprint=} wants it. */
    public static String sha1Thumbprint(URI https) {
        try {
            return HexFormat.ofDelimiter(":").withUpperCase().formatHex(MessageDigest.getInstance("SHA-1")
                    .digest(serverCertificate(https)));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    public static String sha256Thumbprint(URI https) {
        try {
            return HexFormat.ofDelimiter(":").formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(serverCertificate(https)));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    private static byte[] serverCertificate(URI https) {
        X509TrustManager any = new X509TrustManager() {
            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType) {
            }

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType) {
            }

            @Override
            public X509Certificate[] getAcceptedIssuers() {
                return new X509Certificate[0];
            }
        };
        try {
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, new TrustManager[] {any}, null);
            try (SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket(https.getHost(),
                    https.getPort())) {
                socket.startHandshake();
                return socket.getSession().getPeerCertificates()[0].getEncoded();
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (java.security.GeneralSecurityException e) {
            throw new AssertionError(e);
        }
    }

    private static void delete(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void keytool(String... args) {
        List<String> cmd = new java.util.ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin",
                "keytool").toString()));
        cmd.addAll(List.of(args));
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            if (p.waitFor() != 0) {
                throw new AssertionError("keytool " + String.join(" ", args) + ":\n" + out);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
