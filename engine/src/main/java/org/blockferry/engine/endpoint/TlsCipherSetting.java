package org.blockferry.engine.endpoint;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import org.blockferry.nbd.NbdConnection;
import org.blockferry.nbd.TlsCiphers;

/**
 * {@code blockferry.nbd.tls-ciphers}: which cipher the NBD client asks for over TLS
 * ({@link TlsCiphers}). GnuTLS takes it once, when libnbd loads, so the launcher reads it before
 * anything else ({@link #forPreload()}) and every copy checks it ({@link #apply(Config)}).
 */
public final class TlsCipherSetting {
    public static final String KEY = "blockferry.nbd.tls-ciphers";

    private TlsCipherSetting() {
    }

    /** The configured preference, or an {@link InvalidInputException} naming the key. */
    public static TlsCiphers fromConfig(Config config) {
        String value;
        try {
            value = config.getString(KEY);
        } catch (ConfigException e) {
            throw new InvalidInputException(KEY, "must be auto, aes-gcm or gnutls-default (" + e.getMessage() + ")");
        }
        TlsCiphers ciphers = TlsCiphers.fromConfigName(value);
        if (ciphers == null) {
            throw new InvalidInputException(KEY, "must be auto, aes-gcm or gnutls-default, got '" + value + "'");
        }
        return ciphers;
    }

    /** Checks the setting and hands it to libnbd's loader (it has effect only before libnbd loads). */
    public static TlsCiphers apply(Config config) {
        TlsCiphers ciphers = fromConfig(config);
        NbdConnection.preferTlsCiphers(ciphers);
        return ciphers;
    }

    /**
     * The preference for loading libnbd at process start, from the default configuration; auto
     * when that cannot be read (the command reports the bad configuration itself).
     */
    public static TlsCiphers forPreload() {
        try {
            return fromConfig(ConfigFactory.load());
        } catch (RuntimeException e) {
            return TlsCiphers.AUTO;
        }
    }
}
