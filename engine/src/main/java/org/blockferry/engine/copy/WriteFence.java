package org.blockferry.engine.copy;

/**
 * Checked right before each write or zero request is issued to a target: a copy may write only
 * while its job's ownership is valid on this node's monotonic clock. A node that was paused or
 * cut off past its lease finds the fence closed and sends nothing more.
 */
@FunctionalInterface
public interface WriteFence {

    /** A fence that never closes: the local operator's one-process commands and the unit tests. */
    WriteFence OPEN = () -> { };

    /** Returns if writing is allowed now; throws {@link Closed} otherwise. */
    void check();

    /** The job's ownership ended on this node (expired or taken over): not one more write. */
    final class Closed extends RuntimeException {
        public Closed(String message) {
            super(message, null, false, false);
        }

        /** Whether {@code t} or one of its causes is a closed fence. */
        public static boolean in(Throwable t) {
            for (Throwable c = t; c != null; c = c.getCause()) {
                if (c instanceof Closed) {
                    return true;
                }
                if (c.getCause() == c) {
                    return false;
                }
            }
            return false;
        }
    }
}
