package org.blockferry.engine.cloudstack;

import java.io.IOException;
import java.util.Set;

/**
 * A CloudStack call that failed: the command, CloudStack's error code (its HTTP status, or an async
 * job's code; 0 when no reply said one: unreachable, timed out) and its text. The message may hold
 * the server's error text, never a key, a signature or a request's parameters.
 */
public final class CloudStackException extends IOException {
    private static final long serialVersionUID = 1L;
    /** Too many requests, internal error, resource unavailable, and a proxy's gateway errors. */
    private static final Set<Integer> RETRYABLE = Set.of(0, 429, 502, 503, 504, 530, 534);

    private final String command;
    private final int errorCode;
    private final String errorText;
    private final boolean retryable;

    CloudStackException(String command, int errorCode, String errorText, boolean retryable, Throwable cause) {
        super("CloudStack " + command + " failed: " + (errorCode > 0 ? errorCode + " " : "") + errorText, cause);
        this.command = command;
        this.errorCode = errorCode;
        this.errorText = errorText;
        this.retryable = retryable;
    }

    /** An error CloudStack replied with; retryable as its code says. */
    static CloudStackException replied(String command, int errorCode, String errorText) {
        return new CloudStackException(command, errorCode, errorText, RETRYABLE.contains(errorCode), null);
    }

    /** A failure without a CloudStack error code that asking again will not cure (a name that matches no zone). */
    static CloudStackException refused(String command, String text) {
        return new CloudStackException(command, 0, text, false, null);
    }

    /** A reply that never came or could not be read: worth trying again. */
    static CloudStackException unreachable(String command, String text, Throwable cause) {
        return new CloudStackException(command, 0, text, true, cause);
    }

    public String command() {
        return command;
    }

    /** CloudStack's code (401, 431, 530, ...), or 0 when no reply gave one. */
    public int errorCode() {
        return errorCode;
    }

    public String errorText() {
        return errorText;
    }

    /** Whether the same call may succeed later (429, 530, 534, connection failures, an async job still pending). */
    public boolean retryable() {
        return retryable;
    }
}
