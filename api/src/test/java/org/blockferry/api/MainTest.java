package org.blockferry.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.Properties;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class MainTest {
    @ParameterizedTest
    @CsvSource({"1, 2", "2, 2"})
    void aSmallMachineGetsACommonPoolOfTwo(int cpus, String expected) {
        Properties p = new Properties();
        Main.poolAsyncStages(p, cpus);
        assertEquals(expected, p.getProperty(Main.COMMON_PARALLELISM));
    }

    @ParameterizedTest
    @CsvSource({"3", "64"})
    void aLargerMachineKeepsTheJdkDefault(int cpus) {
        Properties p = new Properties();
        Main.poolAsyncStages(p, cpus);
        assertNull(p.getProperty(Main.COMMON_PARALLELISM));
    }

    @ParameterizedTest
    @CsvSource({"1", "2", "8"})
    void theOperatorsSettingIsKept(int cpus) {
        Properties p = new Properties();
        p.setProperty(Main.COMMON_PARALLELISM, "5");
        Main.poolAsyncStages(p, cpus);
        assertEquals("5", p.getProperty(Main.COMMON_PARALLELISM));
    }
}
