package org.blockferry.engine.cloudstack;

import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/** How the double reads a request's parameters and checks its key, signature and expiry, as the management server does. */
final class RequestCheck {
    private static final DateTimeFormatter EXPIRES = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ssZ");
    private static final Duration MAX_AHEAD = Duration.ofMinutes(15);

    private final String apiKey;
    private final String secretKey;

    RequestCheck(String apiKey, String secretKey) {
        this.apiKey = apiKey;
        this.secretKey = secretKey;
    }

    /** The parameters of the query string and, for a POST, of the form body; the first value of a name counts. */
    static Map<String, String> parameters(HttpExchange exchange) throws IOException {
        Map<String, String> p = new LinkedHashMap<>();
        decodeInto(exchange.getRequestURI().getRawQuery(), p);
        if (exchange.getRequestMethod().equals("POST")) {
            decodeInto(new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8), p);
        }
        return p;
    }

    private static void decodeInto(String form, Map<String, String> p) {
        if (form == null || form.isEmpty()) {
            return;
        }
        for (String pair : form.split("&")) {
            int eq = pair.indexOf('=');
            String name = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
            String value = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
            p.putIfAbsent(name, value);
        }
    }

    /** Null when the request is signed with the known key; otherwise why not (never a key or signature). */
    String refusal(Map<String, String> p) {
        String key = p.get("apikey");
        String signature = p.get("signature");
        if (key == null || signature == null) {
            return "missing apikey or signature";
        }
        if (!p.containsKey("response") || !p.get("response").equals("json")) {
            return "the double answers response=json only";
        }
        if ("3".equals(p.get("signatureversion"))) {
            String expires = p.get("expires");
            if (expires == null) {
                return "signature version 3 without expires";
            }
            Instant at;
            try {
                at = OffsetDateTime.parse(expires, EXPIRES).toInstant();
            } catch (DateTimeParseException e) {
                return "expires is not yyyy-MM-dd'T'HH:mm:ssZ";
            }
            Instant now = Instant.now();
            if (at.isBefore(now)) {
                return "request expired";
            }
            if (at.isAfter(now.plus(MAX_AHEAD))) {
                return "expires is more than 15 minutes ahead";
            }
        }
        if (!key.equals(apiKey)) {
            return "unknown apikey";
        }
        byte[] expected = expectedSignature(p).getBytes(StandardCharsets.UTF_8);
        return MessageDigest.isEqual(expected, signature.getBytes(StandardCharsets.UTF_8)) ? null
                : "signature mismatch";
    }

    /** As ApiServer.verifyRequest: sorted names, values re-encoded (+ as %20), the whole lower-cased, HmacSHA1. */
    private String expectedSignature(Map<String, String> p) {
        List<String> names = new ArrayList<>(p.keySet());
        names.remove("signature");
        names.sort((a, b) -> a.toLowerCase(Locale.ROOT).compareTo(b.toLowerCase(Locale.ROOT)));
        StringBuilder unsigned = new StringBuilder();
        for (String name : names) {
            if (unsigned.length() > 0) {
                unsigned.append('&');
            }
            unsigned.append(name).append('=')
                    .append(URLEncoder.encode(p.get(name), StandardCharsets.UTF_8).replaceAll("\\+", "%20"));
        }
        try {
            Mac mac = Mac.getInstance("HmacSHA1");
            mac.init(new SecretKeySpec(secretKey.getBytes(StandardCharsets.UTF_8), "HmacSHA1"));
            return Base64.getEncoder().encodeToString(mac.doFinal(unsigned.toString().toLowerCase(Locale.ROOT)
                    .getBytes(StandardCharsets.UTF_8)));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public String toString() {
        return "RequestCheck";
    }
}
