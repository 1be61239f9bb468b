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
}
