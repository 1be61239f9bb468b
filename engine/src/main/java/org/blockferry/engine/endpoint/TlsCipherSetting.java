package org.blockferry.engine.endpoint;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigResolveOptions;
import java.util.Map;
import org.blockferry.nbd.NbdConnection;
import org.blockferry.nbd.TlsCiphers;
import org.slf4j.LoggerFactory;

/**
 * {@code blockferry.nbd.tls-ciphers}: which cipher the NBD client asks for over TLS
 * ({@link TlsCiphers}). GnuTLS takes it once, when libnbd loads, so the launcher reads it before
 * anything else ({@link #forPreload()}) and every copy checks it ({@link #apply(Config)}).
 */
public final class TlsCipherSetting {
    public static final String KEY = "blockferry.nbd.tls-ciphers";
    static final String ENV = "BLOCKFERRY_NBD_TLS_CIPHERS";

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
        if (!NbdConnection.preferTlsCiphers(ciphers)) {
            LoggerFactory.getLogger(TlsCipherSetting.class).warn("{} = {} has no effect in this process: libnbd"
                    + " loaded before it was read ({})", KEY, ciphers.configName(), NbdConnection.tlsCiphersInEffect());
        }
        return ciphers;
    }

    /**
     * The preference for loading libnbd at process start. Read from the places an operator sets it
     * (a {@code -D} system property, the {@code -Dconfig.file} file or the class path's
     * application.conf, the environment variable), not from the whole merged configuration: that
     * takes about 100 ms, and libnbd's loading waits for this. {@link #apply(Config)} checks the
     * full configuration later. Auto when nothing says otherwise or the value is bad (the command
     * then reports it).
     */
    public static TlsCiphers forPreload() {
        try {
            String file = System.getProperty("config.file");
            String env = System.getenv(ENV);
            Config operator = ConfigFactory.systemProperties()
                    .withFallback(file != null ? ConfigFactory.parseFile(new java.io.File(file))
                            : ConfigFactory.parseResourcesAnySyntax("application"))
                    .withFallback(ConfigFactory.parseMap(env != null ? Map.of(KEY, env) : Map.of()))
                    .resolve(ConfigResolveOptions.defaults().setAllowUnresolved(true));
            return operator.hasPath(KEY) ? fromConfig(operator) : TlsCiphers.AUTO;
        } catch (RuntimeException e) {
            return TlsCiphers.AUTO;
        }
    }
}
