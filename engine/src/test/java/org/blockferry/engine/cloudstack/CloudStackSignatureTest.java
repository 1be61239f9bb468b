package org.blockferry.engine.cloudstack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.Test;

class CloudStackSignatureTest {

    private static String hmac(String secret, String text) throws Exception {
        Mac mac = Mac.getInstance("HmacSHA1");
        mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA1"));
        return Base64.getEncoder().encodeToString(mac.doFinal(text.getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void theDocumentedTestVectorIsMet() {
        RequestSigner signer = new RequestSigner("foo", "bar", 2);
        Map<String, String> params = Map.of("apikey", "foo", "command", "listZones");
        assertEquals("apikey=foo&command=listZones", RequestSigner.canonical(params));
        assertEquals("vRCL4rttwUS7s3a3m53Py1iHaAw=", signer.signature(params));
    }

    @Test
    void versionThreeAddsSignatureVersionAndAnExpiryTenMinutesAhead() {
        Instant now = Instant.parse("2026-12-02T10:00:00Z");
        Map<String, String> p = new RequestSigner("foo", "bar", 3).parameters("listVolumes", Map.of("ListAll", "true"),
                now);
        assertEquals(Map.of("apikey", "foo", "command", "listVolumes", "response", "json", "listall", "true",
                "signatureversion", "3", "expires", "2026-12-02T10:10:00+0000"), p);
        Map<String, String> v2 = new RequestSigner("foo", "bar", 2).parameters("listZones", Map.of(), now);
        assertEquals(Map.of("apikey", "foo", "command", "listZones", "response", "json"), v2);
    }

    @Test
    void valuesAreEncodedAsJavasUrlEncoderWithSpacesAsPercent20() {
        assertEquals("a%20b*c%7Ed.e-f_g%2Bh%26i%3Dj%2Fk%C3%BC%3A", RequestSigner.encode("a b*c~d.e-f_g+h&i=j/kü:"));
    }

    @Test
    void theSignedStringIsSortedByNameAndLowerCasedWhole() throws Exception {
        RequestSigner signer = new RequestSigner("Foo", "Bar", 2);
        Map<String, String> p = new LinkedHashMap<>();
        p.put("name", "My Volume~1*");
        p.put("command", "createVolume");
        p.put("apikey", "Foo");
        p.put("signature", "ignored");
        assertEquals(hmac("Bar", "apikey=foo&command=createvolume&name=my%20volume%7e1*"), signer.signature(p));
    }

    @Test
    void theBodyCarriesTheParametersAndTheEncodedSignature() throws Exception {
        RequestSigner signer = new RequestSigner("foo", "bar", 2);
        Map<String, String> p = signer.parameters("listZones", Map.of("name", "zone one"), Instant.now());
        String body = signer.form(p);
        assertTrue(body.startsWith("apikey=foo&command=listZones&name=zone%20one&response=json&signature="), body);
        String sent = URLDecoder.decode(body.substring(body.indexOf("&signature=") + 11), StandardCharsets.UTF_8);
        assertEquals(hmac("bar", "apikey=foo&command=listzones&name=zone%20one&response=json"), sent);
        assertFalse(body.contains("bar"), "the secret is never sent");
    }
}
