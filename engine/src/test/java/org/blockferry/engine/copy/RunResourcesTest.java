package org.blockferry.engine.copy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * A run's end waits for every request it sent: its connections are closed only then (nbdkit 1.32
 * aborts when a connection is dropped with requests in flight), and nothing is sent after it.
 */
class RunResourcesTest {
    @Test
    void theEndWaitsForIoSentWhileItBegan() {
        RunResources run = new RunResources();
        BufferPool.Lease lease = BufferPool.create(4096, 4096).acquire(1).join();
        CompletableFuture<String> reply = new CompletableFuture<>();
        AtomicReference<CompletableFuture<Void>> settled = new AtomicReference<>();
        // the run ends between the check that lets this I/O start and the sending of its requests
        CompletableFuture<String> io = run.start(lease, () -> {
            run.stop();
            settled.set(run.settled());
            return reply;
        });
        assertFalse(settled.get().isDone(), "the end waits for the request sent while it began");
        reply.complete("done");
        assertTrue(settled.get().isDone());
        assertEquals("done", io.join());
        assertFalse(lease.isReleased(), "the pipeline still holds its buffer");
        run.releaseAll();
        assertTrue(lease.isReleased());
    }

    @Test
    void nothingIsSentOnceTheRunStopsAndItsBufferGoesBack() {
        RunResources run = new RunResources();
        BufferPool.Lease lease = BufferPool.create(4096, 4096).acquire(1).join();
        run.stop();
        AtomicBoolean sent = new AtomicBoolean();
        CompletableFuture<Void> io = run.start(lease, () -> {
            sent.set(true);
            return CompletableFuture.completedFuture(null);
        });
        assertFalse(sent.get());
        assertTrue(lease.isReleased());
        assertThrows(CancellationException.class, io::join);
        assertTrue(run.settled().isDone());
    }

    @Test
    void aFailureToSendIsTheIosFailureAndEndsItsTracking() {
        RunResources run = new RunResources();
        CompletableFuture<Void> io = run.start(null, () -> {
            throw new IllegalStateException("the connection is closed");
        });
        CompletionException e = assertThrows(CompletionException.class, io::join);
        assertInstanceOf(IllegalStateException.class, e.getCause());
        assertTrue(run.settled().isDone());
    }
}
