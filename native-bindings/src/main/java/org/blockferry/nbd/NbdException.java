package org.blockferry.nbd;

import org.blockferry.nbd.Raw.LibC;
import org.blockferry.nbd.Raw.LibNbd;

import java.io.IOException;

/**
 * A failed libnbd call: the operation, libnbd's own message and the errno, all read on the
 * failing thread right after the call (libnbd keeps them thread-local).
 */
public class NbdException extends IOException {
    private static final long serialVersionUID = 1L;

    /** errno for a request that timed out in the event loop. */
    public static final int ETIMEDOUT = 110;
    /** errno libnbd uses for a connection that is closed or dead. */
    public static final int ENOTCONN = 107;
    /** errno for a server that closed the connection during the handshake. */
    public static final int ECONNRESET = 104;

    private final String operation;
    private final String nbdMessage;
    private final int errno;

    public NbdException(String operation, String nbdMessage, int errno) {
        super(operation + ": " + nbdMessage + (errno != 0 ? " (errno " + errno + ")" : ""));
        this.operation = operation;
        this.nbdMessage = nbdMessage;
        this.errno = errno;
    }

    /** The libnbd call that failed, e.g. {@code nbd_connect_uri}. */
    public String operation() {
        return operation;
    }

    /** libnbd's message, without the operation prefix. */
    public String nbdMessage() {
        return nbdMessage;
    }

    /** The errno libnbd reported, or 0 when it gave none. */
    public int errno() {
        return errno;
    }

    /** Captures libnbd's thread-local error right now; call it on the thread that saw -1. */
    static NbdException last(LibNbd nbd, String operation) {
        String message = nbd.nbd_get_error();
        int errno = nbd.nbd_get_errno();
        return new NbdException(operation, message == null ? "unknown error" : stripPrefix(message), errno);
    }

    private static String stripPrefix(String message) {
        // libnbd prefixes its messages with the call name ("nbd_pread: ..."); we carry it separately.
        int colon = message.indexOf(": ");
        if (colon > 0 && message.startsWith("nbd_")) {
            return message.substring(colon + 2);
        }
        return message;
    }
}
