package org.blockferry.engine.cloudstack;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Base64;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Signs CloudStack API requests as the management server checks them: every parameter but the
 * signature, values URL-encoded as Java's URLEncoder does with {@code +} turned into {@code %20},
 * sorted by lower-cased name, joined with {@code &}, the whole lower-cased, HMAC-SHA1 with the
 * secret key, Base64.
 */
final class RequestSigner {
    /** Signature version 3 requests expire; the server takes them at most 15 minutes ahead. */
    static final Duration EXPIRES_AFTER = Duration.ofMinutes(10);
    static final DateTimeFormatter EXPIRES = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ssZ", Locale.ROOT)
            .withZone(ZoneOffset.UTC);

    private final String apiKey;
    private final SecretKeySpec secret;
    private final int version;

    RequestSigner(String apiKey, String secretKey, int version) {
        this.apiKey = apiKey;
        this.secret = new SecretKeySpec(secretKey.getBytes(StandardCharsets.UTF_8), "HmacSHA1");
        this.version = version;
    }

    /** The parameters sent for one command: the caller's, named in lower case, and the ones CloudStack wants. */
    Map<String, String> parameters(String command, Map<String, String> params, Instant now) {
        Map<String, String> all = new TreeMap<>();
        params.forEach((k, v) -> all.put(k.toLowerCase(Locale.ROOT), v));
        all.put("command", command);
        all.put("apikey", apiKey);
        all.put("response", "json");
        if (version >= 3) {
            all.put("signatureversion", "3");
            all.put("expires", EXPIRES.format(now.plus(EXPIRES_AFTER)));
        }
        return all;
    }

    /** The request body: the parameters and their signature, form-encoded. */
    String form(Map<String, String> params) {
        return canonical(params) + "&signature=" + encode(signature(params));
    }

    /** The signature of these parameters (a {@code signature} among them is left out). */
    String signature(Map<String, String> params) {
        try {
            Mac mac = Mac.getInstance("HmacSHA1");
            mac.init(secret);
            byte[] digest = mac.doFinal(canonical(params).toLowerCase(Locale.ROOT).getBytes(StandardCharsets.UTF_8));
            return Base64.getEncoder().encodeToString(digest);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA1 is part of every JDK", e);
        }
    }

    /** name=value pairs sorted by lower-cased name, before lower-casing. */
    static String canonical(Map<String, String> params) {
        Map<String, String> sorted = new TreeMap<>();
        params.forEach((k, v) -> {
            if (!k.equalsIgnoreCase("signature")) {
                sorted.put(k.toLowerCase(Locale.ROOT), k + "=" + encode(v));
            }
        });
        return sorted.values().stream().collect(Collectors.joining("&"));
    }

    static String encode(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8).replace("+", "%20");
    }

    @Override
    public String toString() {
        return "RequestSigner[version=" + version + "]";
    }
}
