package org.blockferry.api.node;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.blockferry.nbd.testing.NbdkitServer;

/**
 * The deaths of a crash test's nbdkit servers, each one explained or not. nbdkit 1.32 may abort
 * ({@code raw_send_socket: Assertion `sock >= 0' failed}) while it drops a client SIGKILLed
 * mid-request (or a node a test stops mid-copy): that death is explained by the test's own kill,
 * once per server, and the server is started again on its socket, as a service manager would.
 * Any other death is not: a watchdog restarts the server (so that the run still ends) and
 * {@link #assertNoneUnexplained} fails.
 */
public final class NbdkitAborts implements AutoCloseable {
    /** How long a server may take to let go of a killed client (its delayed requests end first). */
    private static final Duration LET_GO = Duration.ofSeconds(60);

    private final List<NbdkitServer> servers;
    private final List<String> explained = new ArrayList<>();
    private final List<String> unexplained = new ArrayList<>();
    private final ScheduledExecutorService watchdog = Executors.newSingleThreadScheduledExecutor();

    public NbdkitAborts(NbdkitServer... servers) {
        this.servers = List.of(servers);
        watchdog.scheduleWithFixedDelay(() -> restartDead("while the test ran"), 100, 100, TimeUnit.MILLISECONDS);
    }

    /** Something the test does that may throw. */
    public interface Step {
        void run() throws Exception;
    }

    /**
     * Runs {@code kill}, the test's SIGKILL of the servers' client, then waits until every server
     * has let go of that client or died of it, and starts the dead ones again. The watchdog
     * waits meanwhile, so that these deaths count as the kill's.
     */
    public synchronized void clientKilled(Step kill) throws Exception {
        restartDead("before the test's kill");
        kill.run();
        awaitSettled("after the test's kill");
        for (NbdkitServer s : servers) {
            if (s.restartIfDead()) {
                explained.add(s.uri());
            }
        }
    }

    /**
     * Waits until the servers have let go of their clients (a server that dies then is caught
     * here, not later), then fails if any server died other than of the test's kill.
     */
    public synchronized void assertNoneUnexplained() throws InterruptedException {
        awaitSettled("after the run");
        restartDead("after the run");
        assertTrue(unexplained.isEmpty(), "nbdkit died other than of the test's kill (explained restarts: "
                + explained + "):\n" + String.join("\n", unexplained));
    }

    @Override
    public void close() throws InterruptedException {
        watchdog.shutdownNow();
        watchdog.awaitTermination(30, TimeUnit.SECONDS);
    }

    private synchronized void restartDead(String when) {
        for (NbdkitServer s : servers) {
            if (!s.isAlive()) {
                unexplained.add(s.uri() + " died " + when + "; its log:\n" + s.logText());
                s.restartIfDead();
            }
        }
    }

    /**
     * Until each server is dead or idle at two looks 100 ms apart: an abort happens while a
     * connection is being dropped, and no connection is left by then.
     */
    private void awaitSettled(String when) throws InterruptedException {
        long deadline = System.nanoTime() + LET_GO.toNanos();
        for (NbdkitServer s : servers) {
            int idleLooks = 0;
            while (s.isAlive() && idleLooks < 2) {
                idleLooks = s.idle() ? idleLooks + 1 : 0;
                assertTrue(System.nanoTime() < deadline, s.uri() + " still serves a client " + LET_GO + " " + when);
                Thread.sleep(100);
            }
        }
    }
}
