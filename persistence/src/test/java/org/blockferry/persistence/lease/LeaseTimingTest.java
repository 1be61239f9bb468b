package org.blockferry.persistence.lease;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import org.apache.pekko.coordination.lease.LeaseSettings;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** blockferry.cluster.lease: the defaults, and every bad value named by its key. */
class LeaseTimingTest {

    @Test
    void theDefaultsRenewFourTimesWithinTheTimeoutAndTakeOverTwoSecondsLater() {
        LeaseTiming timing = LeaseTiming.fromConfig(ConfigFactory.load());
        assertEquals(new LeaseTiming(Duration.ofSeconds(12), Duration.ofSeconds(3), Duration.ofSeconds(5),
                Duration.ofSeconds(2)), timing);
        assertEquals(Duration.ofSeconds(14), timing.expiry());
    }

    @Test
    void theSplitBrainLeaseTakesTheSameTimingsAsPekkoReadsThem() {
        Config config = ConfigFactory.load();
        Config leaseConfig = config.getConfig(CoordinationLease.CONFIG_PATH)
                .withFallback(config.getConfig("pekko.coordination.lease"));
        assertEquals(CoordinationLease.class.getName(), leaseConfig.getString("lease-class"));
        LeaseSettings settings = LeaseSettings.apply(leaseConfig, "blockferry-pekko-sbr", "node-a");
        assertEquals(LeaseTiming.fromConfig(config), CoordinationLease.timing(settings, config));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "heartbeat-timeout = 0s            | blockferry.cluster.lease.heartbeat-timeout  | must be positive",
        "heartbeat-interval = -1s          | blockferry.cluster.lease.heartbeat-interval | must be positive",
        "operation-timeout = 0ms           | blockferry.cluster.lease.operation-timeout  | must be positive",
        "takeover-margin = -1ms            | blockferry.cluster.lease.takeover-margin    | must be zero or more",
        "heartbeat-interval = 6s           | blockferry.cluster.lease.heartbeat-interval | less than half of heartbeat-timeout",
        "heartbeat-timeout = soon          | blockferry.cluster.lease.heartbeat-timeout  | must be a duration",
    })
    void aBadValueIsRefusedNamingItsKey(String setting, String key, String message) {
        Config config = ConfigFactory.parseString("blockferry.cluster.lease." + setting)
                .withFallback(ConfigFactory.load());
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> LeaseTiming.fromConfig(config));
        assertEquals(key, e.field());
        assertTrue(e.getMessage().contains(message), e.getMessage());
    }

    @Test
    void aZeroMarginIsAllowed() {
        Config config = ConfigFactory.parseString("blockferry.cluster.lease.takeover-margin = 0s")
                .withFallback(ConfigFactory.load());
        assertEquals(Duration.ZERO, LeaseTiming.fromConfig(config).takeoverMargin());
    }
}
