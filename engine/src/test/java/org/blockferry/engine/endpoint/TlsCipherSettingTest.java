package org.blockferry.engine.endpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.util.Map;
import org.blockferry.nbd.TlsCiphers;
import org.junit.jupiter.api.Test;

class TlsCipherSettingTest {
    private static Config with(String value) {
        return ConfigFactory.parseMap(Map.of(TlsCipherSetting.KEY, value)).withFallback(ConfigFactory.defaultReference())
                .resolve();
    }

    @Test
    void theDefaultIsAutoAndEachSpellingIsRead() {
        assertEquals(TlsCiphers.AUTO, TlsCipherSetting.fromConfig(ConfigFactory.defaultReference().resolve()));
        assertEquals(TlsCiphers.AES_GCM, TlsCipherSetting.fromConfig(with("aes-gcm")));
        assertEquals(TlsCiphers.GNUTLS_DEFAULT, TlsCipherSetting.fromConfig(with("gnutls-default")));
    }

    @Test
    void anythingElseIsRefusedNamingTheKey() {
        for (String bad : new String[] {"", "AES-GCM", "NORMAL:-CHACHA20-POLY1305", "aes-gcm\nx"}) {
            InvalidInputException e = assertThrows(InvalidInputException.class, () -> TlsCipherSetting.fromConfig(with(bad)));
            assertEquals(TlsCipherSetting.KEY, e.field());
        }
        Config list = ConfigFactory.parseString(TlsCipherSetting.KEY + " = [aes-gcm]");
        assertEquals(TlsCipherSetting.KEY, assertThrows(InvalidInputException.class,
                () -> TlsCipherSetting.fromConfig(list)).field());
    }
}
