package org.blockferry.engine.actor;

import java.io.IOException;
import org.blockferry.engine.cloudstack.CloudStackException;
import java.util.concurrent.CompletionException;
import org.blockferry.engine.endpoint.InvalidInputException;

/**
 * Transient failures of one disk in a row, and what counts as one: a quiet {@code window}
 * starts the count again. Network, server and I/O trouble can pass; bad input cannot.
 */
final class FailureBudget {
    private final int maxRetries;
    private final long windowNanos;
    private int inARow;
    private long lastFailure;

    FailureBudget(int maxRetries, java.time.Duration window) {
        this.maxRetries = maxRetries;
        this.windowNanos = window.toNanos();
    }

    /** Records a failure; returns how many there have been in a row. */
    synchronized int failed() {
        long now = System.nanoTime();
        if (inARow > 0 && now - lastFailure > windowNanos) {
            inARow = 0;
        }
        lastFailure = now;
        return ++inARow;
    }

    int maxRetries() {
        return maxRetries;
    }

    /** Crashes a disk's attempt so that its supervisor retries it; carries the cause for the job. */
    static final class TransientDiskFault extends RuntimeException {
        private static final long serialVersionUID = 1L;

        TransientDiskFault(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** CloudStack's own verdict counts for its errors: a parameter error (431) does not pass, a 530 may. */
    static boolean isTransient(Throwable cause) {
        if (cause instanceof CloudStackException cloud) {
            return cloud.retryable();
        }
        return cause instanceof IOException && !(cause instanceof InvalidInputException);
    }

    static String reasonOf(Throwable cause) {
        String message = cause.getMessage();
        return message == null ? cause.getClass().getSimpleName() : message;
    }

    /** Why a disk's supervisor gave up, for the job's error. */
    static String describeGiveUp(Throwable cause, int maxRetries) {
        Throwable root = cause instanceof TransientDiskFault && cause.getCause() != null ? cause.getCause() : cause;
        return "gave up after " + maxRetries + " retries: " + reasonOf(root);
    }

    static Throwable unwrap(Throwable t) {
        while (t instanceof CompletionException && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }
}
