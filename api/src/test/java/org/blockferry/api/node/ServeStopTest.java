package org.blockferry.api.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.blockferry.nbd.testing.TestPeers;
import org.blockferry.persistence.PersistenceSettings;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A {@code serve} process on its embedded H2 database stopped by SIGTERM (a service manager) or
 * SIGINT (Ctrl-C): it stops its node before the JVM's shutdown hooks run, so the database is
 * still open while the journal and the read side stop — no failing query, no stack trace — and
 * it exits 128 + the signal's number.
 */
class ServeStopTest {
    @ParameterizedTest
    @CsvSource({"TERM, 143", "INT, 130"})
    void aSignalStopsTheNodeCleanlyAndExitsWithItsCode(String signal, int exitCode) throws Exception {
        Path dir = TestPeers.scratchDirectory("serve-stop-");
        PersistenceSettings db = TestDatabases.create(TestDatabases.Kind.H2, dir);
        try (NodeProcess serve = NodeProcess.start(dir, "serve", db, Map.of(), null)) {
            assertTrue(serve.awaitLog("serving on", Duration.ofSeconds(90)), serve.log());
            Thread.sleep(1000); // the read side and the journal's polling are running
            kill(signal, serve.process().pid());
            boolean exited = serve.process().waitFor(60, java.util.concurrent.TimeUnit.SECONDS);
            assertTrue(exited, () -> "stopped\n" + serve.log() + "\nits threads, 60 s after the signal:\n"
                    + threads(serve.process().pid()));
            assertEquals(exitCode, serve.process().exitValue(), serve.log());
            String log = serve.log();
            assertFalse(log.contains("Exception") || log.contains("\tat "), "a clean stop:\n" + log);
        }
    }

    /** What a process that did not stop is doing (jcmd Thread.print), for the failure's message. */
    private static String threads(long pid) {
        try {
            Process jcmd = new ProcessBuilder("jcmd", Long.toString(pid), "Thread.print").redirectErrorStream(true)
                    .start();
            String out = new String(jcmd.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            jcmd.waitFor(30, java.util.concurrent.TimeUnit.SECONDS);
            return out;
        } catch (IOException | InterruptedException e) {
            return "(jcmd failed: " + e + ")";
        }
    }

    private static void kill(String signal, long pid) throws IOException, InterruptedException {
        Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(pid)).inheritIO().start();
        assertEquals(0, kill.waitFor(), "kill -" + signal + " " + pid);
    }
}
