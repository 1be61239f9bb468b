package org.blockferry.engine.job;

import com.typesafe.config.Config;
import java.time.Duration;
import org.blockferry.engine.endpoint.InvalidInputException;

/**
 * How jobs run on a node ({@code blockferry.jobs}): how many at once, the retry budget of a
 * disk, how often the job's state is snapshotted, how long an ended job stays in memory, and how
 * many new jobs' entities this node's submissions start at once, and how long a waiting job waits for
 * the answer to a claim before it claims again.
 */
public record JobSettings(int maxRunning, int maxRetries, Duration retryWindow, Duration minBackoff,
                          Duration maxBackoff, int snapshotEvery, Duration passivateAfter, int startingAtOnce,
                          Duration claimAgainAfter) {
    /** The most {@code starting-at-once} may be. */
    public static final int MAX_STARTING_AT_ONCE = 1000;
    /** The range of {@code claim-again-after}. */
    public static final Duration MIN_CLAIM_AGAIN = Duration.ofMillis(100);
    public static final Duration MAX_CLAIM_AGAIN = Duration.ofMinutes(10);

    public JobSettings {
        if (maxRunning < 1) {
            throw new InvalidInputException("blockferry.jobs.max-running", "must be at least 1, got " + maxRunning);
        }
        if (maxRetries < 0) {
            throw new InvalidInputException("blockferry.jobs.retry.max-retries", "must be 0 or more, got " + maxRetries);
        }
        if (minBackoff.isNegative() || maxBackoff.compareTo(minBackoff) < 0) {
            throw new InvalidInputException("blockferry.jobs.retry.max-backoff",
                    "must be at least min-backoff (" + minBackoff + "), got " + maxBackoff);
        }
        if (snapshotEvery < 1) {
            throw new InvalidInputException("blockferry.jobs.snapshot-every", "must be at least 1, got " + snapshotEvery);
        }
        if (passivateAfter.compareTo(Duration.ofSeconds(1)) < 0) {
            throw new InvalidInputException("blockferry.jobs.passivate-after", "must be at least 1s, got " + passivateAfter);
        }
        if (startingAtOnce < 1 || startingAtOnce > MAX_STARTING_AT_ONCE) {
            throw new InvalidInputException("blockferry.jobs.starting-at-once",
                    "must be 1 to " + MAX_STARTING_AT_ONCE + ", got " + startingAtOnce);
        }
        if (claimAgainAfter.compareTo(MIN_CLAIM_AGAIN) < 0 || claimAgainAfter.compareTo(MAX_CLAIM_AGAIN) > 0) {
            throw new InvalidInputException("blockferry.jobs.claim-again-after",
                    "must be 100ms to 10m, got " + claimAgainAfter);
        }
    }

    public static JobSettings fromConfig(Config config) {
        Config c = config.getConfig("blockferry.jobs");
        return new JobSettings(c.getInt("max-running"), c.getInt("retry.max-retries"), c.getDuration("retry.within"),
                c.getDuration("retry.min-backoff"), c.getDuration("retry.max-backoff"), c.getInt("snapshot-every"),
                c.getDuration("passivate-after"), c.getInt("starting-at-once"), c.getDuration("claim-again-after"));
    }

    public JobSettings withMaxRunning(int n) {
        return new JobSettings(n, maxRetries, retryWindow, minBackoff, maxBackoff, snapshotEvery, passivateAfter, startingAtOnce,
                claimAgainAfter);
    }

    public JobSettings withRetries(int retries, Duration min, Duration max) {
        return new JobSettings(maxRunning, retries, retryWindow, min, max, snapshotEvery, passivateAfter, startingAtOnce,
                claimAgainAfter);
    }
}
