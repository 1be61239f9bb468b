package org.blockferry.engine.copy;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.blockferry.nbd.NbdException;

/**
 * Retries a request the server failed (an I/O error such as EIO) on a live connection: the same
 * range again, after a short pause, a few times. A connection that is closed, dead or timed out
 * is not retried here: the whole disk restarts from its checkpoint instead.
 */
final class RequestRetries {
    static final int EIO = 5;
    static final int MAX_ATTEMPTS = 4;
    private static final long PAUSE_MILLIS = 50;

    private final AtomicLong retried = new AtomicLong();
    private final Executor later = CompletableFuture.delayedExecutor(PAUSE_MILLIS, TimeUnit.MILLISECONDS);

    /** Runs {@code request}; retries it while it fails with a retryable error. */
    CompletableFuture<Void> run(Supplier<CompletableFuture<Void>> request) {
        return attempt(request, 1);
    }

    private CompletableFuture<Void> attempt(Supplier<CompletableFuture<Void>> request, int attempt) {
        return request.get().handle((v, e) -> e).thenCompose(error -> {
            if (error == null) {
                return CompletableFuture.completedFuture(null);
            }
            Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
            if (attempt >= MAX_ATTEMPTS || !retryable(cause)) {
                return CompletableFuture.failedFuture(cause);
            }
            retried.incrementAndGet();
            return CompletableFuture.supplyAsync(() -> null, later).thenCompose(x -> attempt(request, attempt + 1));
        });
    }

    /** The server answered with an I/O error: the connection is fine, the request may succeed again. */
    static boolean retryable(Throwable cause) {
        return cause instanceof NbdException n && n.errno() == EIO
                && n.operation().equals("nbd_aio_command_completed");
    }

    /** Requests retried so far. */
    long count() {
        return retried.get();
    }
}
