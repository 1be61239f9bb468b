package org.blockferry.engine.source.vmware.vim;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import javax.xml.stream.XMLOutputFactory;
import javax.xml.stream.XMLStreamException;
import javax.xml.stream.XMLStreamWriter;
import org.blockferry.engine.endpoint.InvalidInputException;

/** One vim25 SOAP request: writes the envelope, posts it, and returns the reply's body element or throws its fault. */
final class SoapCall {
    static final String SESSION_COOKIE = "vmware_soap_session";
    private static final String SOAPENV = "http://schemas.xmlsoap.org/soap/envelope/";
    private static final String VIM25 = "urn:vim25";
    private static final XMLOutputFactory OUT = XMLOutputFactory.newFactory();

    /** A named argument: its value is a String, a ManagedObject or a List of Args (a data object). */
    record Arg(String name, Object value) {
    }

    /**
     * The reply element, the session cookie the server set (if any) and, over TLS, the SHA-1
     * thumbprint of the server's certificate as VDDK wants it ({@code AA:BB:...}).
     */
    record Reply(XmlNode body, String sessionCookie, String serverSha1) {
    }

    private SoapCall() {
    }

    static Arg arg(String name, Object value) {
        return new Arg(name, value);
    }

    /**
     * Posts the call and reads its reply, at most {@code maxReplyBytes} of it: a longer reply (a
     * broken or hostile peer) fails the call without being read further, so it cannot exhaust
     * the node's memory.
     */
    static Reply invoke(HttpClient http, URI sdk, String apiVersion, String cookie, Duration timeout,
            long maxReplyBytes, String method, ManagedObject target, List<Arg> args) throws IOException {
        HttpRequest.Builder req = HttpRequest.newBuilder(sdk).timeout(timeout)
                .header("Content-Type", "text/xml; charset=utf-8")
                .header("SOAPAction", "urn:vim25/" + apiVersion)
                .POST(HttpRequest.BodyPublishers.ofString(envelope(method, target, args)));
        if (cookie != null) {
            req.header("Cookie", SESSION_COOKIE + "=" + cookie);
        }
        HttpResponse<InputStream> res;
        try {
            res = http.send(req.build(), HttpResponse.BodyHandlers.ofInputStream());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(method + " interrupted", e);
        }
        try (InputStream in = res.body()) { // closed early, the rest of the body is never received
            String ctype = res.headers().firstValue("Content-Type").orElse("");
            if (!ctype.contains("xml")) {
                throw new IOException(method + " to " + sdk + ": HTTP " + res.statusCode() + " without a SOAP reply");
            }
            long declared = res.headers().firstValueAsLong("Content-Length").orElse(-1);
            if (declared > maxReplyBytes) {
                throw tooLarge(sdk, method, maxReplyBytes, "it announced " + declared + " bytes");
            }
            BoundedInput bounded = new BoundedInput(in, maxReplyBytes);
            XmlNode envelope;
            try {
                envelope = XmlNode.parse(bounded);
            } catch (IOException e) {
                if (bounded.exceeded) {
                    throw tooLarge(sdk, method, maxReplyBytes, "stopped reading there");
                }
                throw new IOException(method + " to " + sdk + ": " + e.getMessage(), e);
            }
            XmlNode body = envelope.child("Body");
            if (body == null || body.children.isEmpty()) {
                throw new IOException(method + ": SOAP reply without a body (HTTP " + res.statusCode() + ")");
            }
            XmlNode first = body.children.get(0);
            if (first.name.equals("Fault")) {
                throw fault(first);
            }
            return new Reply(first, sessionCookie(res), sha1Thumbprint(res));
        }
    }

    /** Not worth retrying: the same question gets the same answer until an operator raises the bound. */
    private static InvalidInputException tooLarge(URI sdk, String method, long max, String what) {
        return new InvalidInputException(VimClient.MAX_REPLY_KEY, "the reply of " + sdk + " to " + method + " is longer than "
                + max + " bytes (" + what + "); a genuine vCenter's reply this long needs a larger " + VimClient.MAX_REPLY_KEY);
    }

    /** Counts the bytes read and fails past the bound. */
    private static final class BoundedInput extends FilterInputStream {
        private final long max;
        private long read;
        private boolean exceeded;

        BoundedInput(InputStream in, long max) {
            super(in);
            this.max = max;
        }

        private int counted(int n) throws IOException {
            if (n > 0) {
                read += n;
                if (read > max) {
                    exceeded = true;
                    throw new IOException("reply longer than " + max + " bytes");
                }
            }
            return n;
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b >= 0) {
                counted(1);
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            // never more than one byte past the bound
            return counted(super.read(b, off, (int) Math.min(len, Math.max(1, max + 1 - read))));
        }
    }

    /** The leaf certificate's SHA-1 thumbprint, upper-case hex pairs joined by colons; null without TLS. */
    private static String sha1Thumbprint(HttpResponse<?> res) {
        try {
            java.security.cert.Certificate[] chain = res.sslSession().isPresent()
                    ? res.sslSession().get().getPeerCertificates() : null;
            if (chain == null || chain.length == 0) {
                return null;
            }
            byte[] digest = java.security.MessageDigest.getInstance("SHA-1").digest(chain[0].getEncoded());
            return java.util.HexFormat.ofDelimiter(":").withUpperCase().formatHex(digest);
        } catch (javax.net.ssl.SSLPeerUnverifiedException | java.security.GeneralSecurityException e) {
            return null;
        }
    }

    /** Turns a SOAP Fault element into a typed exception, named by the detail's xsi:type or element. */
    static VimFault fault(XmlNode fault) {
        String message = fault.text("faultstring");
        XmlNode detail = fault.child("detail");
        String type = "SystemError";
        if (detail != null && !detail.children.isEmpty()) {
            XmlNode d = detail.children.get(0);
            type = d.xsiType != null ? d.xsiType : d.name.replaceFirst("Fault$", "");
        }
        return VimFault.of(type, message);
    }

    private static String sessionCookie(HttpResponse<?> res) {
        for (String header : res.headers().allValues("Set-Cookie")) {
            if (header.startsWith(SESSION_COOKIE + "=")) {
                int end = header.indexOf(';');
                return header.substring(SESSION_COOKIE.length() + 1, end < 0 ? header.length() : end);
            }
        }
        return null;
    }

    static String envelope(String method, ManagedObject target, List<Arg> args) {
        try {
            StringWriter s = new StringWriter();
            XMLStreamWriter w = OUT.createXMLStreamWriter(s);
            w.writeStartDocument("UTF-8", "1.0");
            w.writeStartElement("soapenv", "Envelope", SOAPENV);
            w.writeNamespace("soapenv", SOAPENV);
            w.writeStartElement("soapenv", "Body", SOAPENV);
            w.writeStartElement(method);
            w.writeDefaultNamespace(VIM25);
            writeValue(w, "_this", target);
            for (Arg a : args) {
                writeValue(w, a.name(), a.value());
            }
            w.writeEndElement();
            w.writeEndElement();
            w.writeEndElement();
            w.writeEndDocument();
            w.close();
            return s.toString();
        } catch (XMLStreamException e) {
            throw new IllegalStateException("cannot write the SOAP request for " + method, e);
        }
    }

    private static void writeValue(XMLStreamWriter w, String name, Object value) throws XMLStreamException {
        if (value == null) {
            return;
        }
        w.writeStartElement(name);
        if (value instanceof ManagedObject mo) {
            w.writeAttribute("type", mo.type());
            w.writeCharacters(mo.value());
        } else if (value instanceof List<?> fields) {
            for (Object f : fields) {
                Arg a = (Arg) f;
                writeValue(w, a.name(), a.value());
            }
        } else {
            w.writeCharacters(String.valueOf(value));
        }
        w.writeEndElement();
    }
}
