package org.blockferry.engine.copy;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.time.Duration;
import org.blockferry.engine.endpoint.ConfigValues;
import org.blockferry.engine.endpoint.InvalidInputException;

/**
 * How one disk is copied: connections, request and chunk sizes, zero detection, timeouts.
 * Built from {@code blockferry.copy} in the configuration; every value is checked with a
 * message that names its key.
 */
public record CopySettings(int connections, int requestSize, int chunkSize, int chunksInFlight, int zeroSegment,
                           Duration requestTimeout, Duration progressInterval, long checkpointInterval,
                           boolean targetIsZero) {

    static final String PREFIX = "blockferry.copy.";
    public static final int MAX_REQUEST = 32 << 20;

    public CopySettings {
        check(connections >= 1 && connections <= 16, "connections", "must be 1..16, got " + connections);
        check(requestSize >= 4096 && requestSize <= MAX_REQUEST, "request-size",
                "must be 4 KiB..32 MiB, got " + requestSize);
        check(chunkSize >= requestSize && chunkSize <= 256 << 20, "chunk-size",
                "must be at least request-size (" + requestSize + ") and at most 256 MiB, got " + chunkSize);
        check(chunksInFlight >= 1 && chunksInFlight <= 64, "chunks-in-flight", "must be 1..64, got " + chunksInFlight);
        check(zeroSegment >= 4096 && zeroSegment <= 1 << 20 && Integer.bitCount(zeroSegment) == 1, "zero-segment",
                "must be a power of two from 4 KiB to 1 MiB, got " + zeroSegment);
        check(!requestTimeout.isNegative() && !requestTimeout.isZero(), "request-timeout",
                "must be positive, got " + requestTimeout);
        check(!progressInterval.isNegative() && !progressInterval.isZero(), "progress-interval",
                "must be positive, got " + progressInterval);
        check(checkpointInterval > 0, "checkpoint-interval", "must be positive, got " + checkpointInterval);
    }

    private static void check(boolean ok, String key, String message) {
        if (!ok) {
            throw new InvalidInputException(PREFIX + key, message);
        }
    }

    /** Reads {@code blockferry.copy}. */
    public static CopySettings fromConfig(Config config) {
        org.blockferry.engine.endpoint.TlsCipherSetting.apply(config);
        Config c = config.getConfig("blockferry.copy");
        return new CopySettings(
                intValue(c, "connections"),
                bytes(c, "request-size"),
                bytes(c, "chunk-size"),
                intValue(c, "chunks-in-flight"),
                bytes(c, "zero-segment"),
                duration(c, "request-timeout"),
                duration(c, "progress-interval"),
                longBytes(c, "checkpoint-interval"),
                bool(c, "target-is-zero"));
    }

    public CopySettings withConnections(int n) {
        return new CopySettings(n, requestSize, chunkSize, chunksInFlight, zeroSegment, requestTimeout, progressInterval, checkpointInterval, targetIsZero);
    }

    public CopySettings withRequestSize(int bytes) {
        return new CopySettings(connections, bytes, Math.max(chunkSize, bytes), chunksInFlight, zeroSegment, requestTimeout, progressInterval, checkpointInterval, targetIsZero);
    }

    public CopySettings withChunkSize(int bytes) {
        return new CopySettings(connections, requestSize, bytes, chunksInFlight, zeroSegment, requestTimeout, progressInterval, checkpointInterval, targetIsZero);
    }

    public CopySettings withZeroSegment(int bytes) {
        return new CopySettings(connections, requestSize, chunkSize, chunksInFlight, bytes, requestTimeout, progressInterval, checkpointInterval, targetIsZero);
    }

    public CopySettings withTargetIsZero(boolean zero) {
        return new CopySettings(connections, requestSize, chunkSize, chunksInFlight, zeroSegment, requestTimeout, progressInterval, checkpointInterval, zero);
    }

    public CopySettings withProgressInterval(Duration interval) {
        return new CopySettings(connections, requestSize, chunkSize, chunksInFlight, zeroSegment, requestTimeout, interval, checkpointInterval, targetIsZero);
    }

    public CopySettings withCheckpointInterval(long bytes) {
        return new CopySettings(connections, requestSize, chunkSize, chunksInFlight, zeroSegment, requestTimeout, progressInterval, bytes, targetIsZero);
    }

    public CopySettings withRequestTimeout(Duration timeout) {
        return new CopySettings(connections, requestSize, chunkSize, chunksInFlight, zeroSegment, timeout, progressInterval, checkpointInterval, targetIsZero);
    }

    public CopySettings withChunksInFlight(int n) {
        return new CopySettings(connections, requestSize, chunkSize, n, zeroSegment, requestTimeout, progressInterval, checkpointInterval, targetIsZero);
    }

    static int intValue(Config c, String key) {
        try {
            return c.getInt(key);
        } catch (ConfigException e) {
            throw new InvalidInputException(PREFIX + key, "must be a whole number (" + e.getMessage() + ")");
        }
    }

    static int bytes(Config c, String key) {
        long value = longBytes(c, key);
        if (value > Integer.MAX_VALUE) {
            throw new InvalidInputException(PREFIX + key, "is too large: " + value + " bytes");
        }
        return (int) value;
    }

    static long longBytes(Config c, String key) {
        try {
            return c.getBytes(key);
        } catch (ConfigException e) {
            throw new InvalidInputException(PREFIX + key, "must be a size such as 4MiB (" + e.getMessage() + ")");
        }
    }

    static Duration duration(Config c, String key) {
        return ConfigValues.duration(c, PREFIX, key);
    }

    static boolean bool(Config c, String key) {
        try {
            return c.getBoolean(key);
        } catch (ConfigException e) {
            throw new InvalidInputException(PREFIX + key, "must be true or false (" + e.getMessage() + ")");
        }
    }
}
