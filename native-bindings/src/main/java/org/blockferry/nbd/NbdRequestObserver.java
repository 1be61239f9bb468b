package org.blockferry.nbd;

/**
 * Sees every asynchronous NBD request the event loops complete: its operation, how long the
 * server took (submission to reply) and whether it succeeded. One observer per process (the
 * API's metrics install theirs); it runs on an event-loop thread and must return at once.
 */
@FunctionalInterface
public interface NbdRequestObserver {
    /** @param operation {@code pread}, {@code pwrite}, {@code zero}, {@code trim} or {@code flush} */
    void completed(String operation, long nanos, boolean ok);

    NbdRequestObserver NONE = (operation, nanos, ok) -> { };

    /** Installs {@code observer} for every connection of this process ({@link #NONE} to stop). */
    static void install(NbdRequestObserver observer) {
        Installed.observer = observer == null ? NONE : observer;
    }

    /** The installed observer. */
    static NbdRequestObserver current() {
        return Installed.observer;
    }

    /** Holder of the process-wide observer. */
    final class Installed {
        private static volatile NbdRequestObserver observer = NONE;

        private Installed() {
        }
    }
}
