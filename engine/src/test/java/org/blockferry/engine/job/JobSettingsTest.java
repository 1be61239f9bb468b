package org.blockferry.engine.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.junit.jupiter.api.Test;

class JobSettingsTest {
    @Test
    void newJobsStartEightAtOnceByDefault() {
        assertEquals(8, JobSettings.fromConfig(ConfigFactory.load()).startingAtOnce());
    }

    @Test
    void startingAtOnceOutsideOneToAThousandIsRefusedNamingTheKey() {
        for (int bad : new int[] {0, -3, 1001}) {
            InvalidInputException e = assertThrows(InvalidInputException.class, () -> JobSettings.fromConfig(
                    ConfigFactory.parseString("blockferry.jobs.starting-at-once = " + bad)
                            .withFallback(ConfigFactory.load())));
            assertEquals("blockferry.jobs.starting-at-once", e.field());
            assertTrue(e.getMessage().contains("must be 1 to 1000, got " + bad), e.getMessage());
        }
        assertEquals(1000, JobSettings.fromConfig(ConfigFactory.parseString("blockferry.jobs.starting-at-once = 1000")
                .withFallback(ConfigFactory.load())).startingAtOnce());
    }

    @Test
    void aWaitingJobClaimsAgainAfterFiveSecondsByDefault() {
        assertEquals(java.time.Duration.ofSeconds(5), JobSettings.fromConfig(ConfigFactory.load()).claimAgainAfter());
    }

    @Test
    void claimAgainAfterOutsideATenthOfASecondToTenMinutesIsRefusedNamingTheKey() {
        for (String bad : new String[] {"0s", "99ms", "-1s", "11m"}) {
            InvalidInputException e = assertThrows(InvalidInputException.class, () -> JobSettings.fromConfig(
                    ConfigFactory.parseString("blockferry.jobs.claim-again-after = " + bad)
                            .withFallback(ConfigFactory.load())));
            assertEquals("blockferry.jobs.claim-again-after", e.field());
            assertTrue(e.getMessage().contains("must be 100ms to 10m, got "), e.getMessage());
        }
        assertEquals(java.time.Duration.ofMillis(100), JobSettings.fromConfig(ConfigFactory.parseString(
                "blockferry.jobs.claim-again-after = 100ms").withFallback(ConfigFactory.load())).claimAgainAfter());
    }
}
