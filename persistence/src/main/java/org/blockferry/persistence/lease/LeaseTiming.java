package org.blockferry.persistence.lease;

import com.typesafe.config.Config;
import java.time.Duration;
import org.blockferry.engine.endpoint.ConfigValues;
import org.blockferry.engine.endpoint.InvalidInputException;

/**
 * How leases age ({@code blockferry.cluster.lease}): a holder stops after {@code heartbeatTimeout}
 * without a renewal on its monotonic clock; another owner may take over only after
 * {@code heartbeatTimeout + takeoverMargin} on the database's clock. Every value is checked with a
 * message that names its key.
 */
public record LeaseTiming(Duration heartbeatTimeout, Duration heartbeatInterval, Duration operationTimeout,
                          Duration takeoverMargin) {

    public static final String PATH = "blockferry.cluster.lease";

    public LeaseTiming {
        check(PATH, "operation-timeout", heartbeatTimeout, heartbeatInterval, operationTimeout, takeoverMargin);
    }

    /** Reads {@code blockferry.cluster.lease}. */
    public static LeaseTiming fromConfig(Config config) {
        return fromConfig(config, PATH, "operation-timeout");
    }

    /**
     * Reads the four durations at {@code path}, whose operation timeout is called
     * {@code operationKey} (Pekko's lease settings call it {@code lease-operation-timeout}).
     */
    static LeaseTiming fromConfig(Config config, String path, String operationKey) {
        Config c = config.getConfig(path);
        Duration timeout = ConfigValues.duration(c, path + ".", "heartbeat-timeout");
        Duration interval = ConfigValues.duration(c, path + ".", "heartbeat-interval");
        Duration operation = ConfigValues.duration(c, path + ".", operationKey);
        Duration margin = ConfigValues.duration(c, path + ".", "takeover-margin");
        check(path, operationKey, timeout, interval, operation, margin);
        return new LeaseTiming(timeout, interval, operation, margin);
    }

    /** Takeover needs the database to have seen no renewal for this long. */
    public Duration expiry() {
        return heartbeatTimeout.plus(takeoverMargin);
    }

    static void check(String path, String operationKey, Duration timeout, Duration interval, Duration operation,
                      Duration margin) {
        positive(path, "heartbeat-timeout", timeout);
        positive(path, "heartbeat-interval", interval);
        positive(path, operationKey, operation);
        if (margin == null || margin.isNegative()) {
            throw new InvalidInputException(path + ".takeover-margin", "must be zero or more, got " + margin);
        }
        if (interval.multipliedBy(2).compareTo(timeout) >= 0) {
            throw new InvalidInputException(path + ".heartbeat-interval", "must be less than half of"
                    + " heartbeat-timeout (" + timeout + ") so that one failed renewal costs nothing, got " + interval);
        }
    }

    private static void positive(String path, String key, Duration d) {
        if (d == null || d.isNegative() || d.isZero()) {
            throw new InvalidInputException(path + "." + key, "must be positive, got " + d);
        }
    }
}
