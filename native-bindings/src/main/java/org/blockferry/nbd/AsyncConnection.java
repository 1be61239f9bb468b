package org.blockferry.nbd;

import org.blockferry.nbd.Raw.LibC;
import org.blockferry.nbd.Raw.LibNbd;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.blockferry.nbd.NbdEventLoop.Request;
import org.blockferry.nbd.NbdEventLoop.Request.Kind;

/**
 * A connection driven by an {@link NbdEventLoop}: asynchronous reads, writes, zeroes, trims
 * and flushes, each a future completed when the server has answered.
 *
 * <p>Methods may be called from any thread. A failed connection (server gone, request timed
 * out) fails all its pending and later requests with the cause; {@link #close()} ends it.
 */
public final class AsyncConnection {
    private final NbdEventLoop loop;
    private final NbdConnection connection;
    final int fd;
    // Loop-thread state.
    private final Map<Long, Request> inFlight = NbdEventLoop.newInFlightMap();
    private final List<Request> abandoned = new ArrayList<>();
    private NbdException broken;
    private boolean closed;
    /**
     * libnbd moves a connection only inside a call on it: a request issued (which may also read
     * replies TLS has buffered) or a poll event handled. Until then its poll direction is the one
     * read last and no request of it can have completed: the loop asks libnbd again only then.
     */
    private boolean directionStale = true;
    /** The poll events of {@link #pollEvents} while the direction is not stale. */
    private short events;
    /** A request was issued since the last reap (its call may have completed others). */
    private boolean reapDue;
    /**
     * Closing with a goodbye: the disconnect is sent and the loop drives the connection until the
     * server closes its end or {@link #goodbyeUntil} (nanoTime) passes — other connections of the
     * loop go on meanwhile (waiting on the loop stalled them up to 100 ms per connection closed).
     */
    private boolean sayingGoodbye;
    private long goodbyeUntil;
    private final CompletableFuture<Void> closedFuture = new CompletableFuture<>();

    AsyncConnection(NbdEventLoop loop, NbdConnection connection, int fd) {
        this.loop = loop;
        this.connection = connection;
        this.fd = fd;
    }

    /** The underlying handle, for its cached properties ({@code size()}, {@code canZero()}, ...). */
    public NbdConnection connection() {
        return connection;
    }

    /** Reads {@code length} bytes at {@code offset} into {@code buffer} at {@code bufferOffset}. */
    public CompletableFuture<Void> pread(NbdBuffer buffer, int bufferOffset, int length, long offset) {
        return submitWithBuffer(Kind.PREAD, buffer, bufferOffset, length, offset, 0);
    }

    /** Writes {@code length} bytes of {@code buffer} from {@code bufferOffset} at {@code offset}. */
    public CompletableFuture<Void> pwrite(NbdBuffer buffer, int bufferOffset, int length, long offset, int flags) {
        return submitWithBuffer(Kind.PWRITE, buffer, bufferOffset, length, offset, flags);
    }

    public CompletableFuture<Void> zero(long length, long offset, int flags) {
        return submit(new Request(Kind.ZERO, this, null, 0, length, offset, flags));
    }

    public CompletableFuture<Void> trim(long length, long offset, int flags) {
        return submit(new Request(Kind.TRIM, this, null, 0, length, offset, flags));
    }

    /** Flushes writes that completed before this call to stable storage. */
    public CompletableFuture<Void> flush() {
        return submit(new Request(Kind.FLUSH, this, null, 0, 0, 0, 0));
    }

    private CompletableFuture<Void> submitWithBuffer(Kind kind, NbdBuffer buffer, int bufferOffset, int length,
                                                     long offset, int flags) {
        buffer.address(bufferOffset, length); // range check now, on the caller's thread
        buffer.pin();
        return submit(new Request(kind, this, buffer, bufferOffset, length, offset, flags));
    }

    private CompletableFuture<Void> submit(Request request) {
        loop.submit(request);
        return request.future;
    }

    /**
     * Closes the connection on its loop: requests still pending fail, the handle is closed, and
     * only then are their buffers unpinned. Idempotent.
     */
    public CompletableFuture<Void> close() {
        CompletableFuture<Void> accepted = new CompletableFuture<>();
        loop.execute(this::closeOnLoop, accepted);
        if (accepted.isCompletedExceptionally()) {
            // The loop is gone; it closed every attached connection on its way out.
            connection.close();
            closedFuture.complete(null);
        }
        return closedFuture;
    }

    // ---- loop thread ----

    void issue(Request r, long timeoutNanos) {
        if (closed || broken != null) {
            r.fail(closed ? new NbdException(r.kind.name().toLowerCase(), "the connection is closed",
                    NbdException.ENOTCONN) : broken);
            return;
        }
        long cookie;
        try {
            cookie = switch (r.kind) {
                case PREAD -> connection.aioPread(r.buffer.address(r.bufferOffset, r.length), r.length, r.offset);
                case PWRITE -> connection.aioPwrite(r.buffer.address(r.bufferOffset, r.length), r.length, r.offset,
                        r.flags);
                case ZERO -> connection.aioZero(r.length, r.offset, r.flags);
                case TRIM -> connection.aioTrim(r.length, r.offset, r.flags);
                case FLUSH -> connection.aioFlush();
            };
        } catch (NbdException | RuntimeException e) {
            r.fail(e); // not accepted by libnbd: it holds no reference to the buffer
            return;
        }
        r.submitted = System.nanoTime();
        r.deadline = r.submitted + timeoutNanos;
        inFlight.put(cookie, r);
        directionStale = true;
        reapDue = true;
    }

    /** Reaps when a request was issued since the last reap (see {@link #directionStale}). */
    void reapIfDue() {
        if (reapDue) {
            reap();
        }
    }

    boolean hasRequestsInFlight() {
        return !inFlight.isEmpty();
    }

    short pollEvents() {
        if (!sayingGoodbye && (inFlight.isEmpty() || closed || broken != null)) {
            return 0;
        }
        if (!directionStale) {
            return events;
        }
        directionStale = false;
        int direction = connection.aioGetDirection();
        events = (short) (((direction & LibNbd.LIBNBD_AIO_DIRECTION_READ) != 0 ? LibC.POLLIN : 0)
                | ((direction & LibNbd.LIBNBD_AIO_DIRECTION_WRITE) != 0 ? LibC.POLLOUT : 0));
        return events;
    }

    void onReady(short revents) {
        directionStale = true;
        if (sayingGoodbye) {
            onGoodbyeReady(revents);
            return;
        }
        try {
            notifyLibnbd(revents);
        } catch (NbdException e) {
            // libnbd retires the requests of a dead connection with errors: reap them first,
            // so each carries its own message when there is one.
            reap();
            breakWith(e);
            return;
        }
        reap();
    }

    void reap() {
        reapDue = false;
        if (inFlight.isEmpty()) {
            return;
        }
        // Completed, not yet retired: libnbd counts neither as in flight (-1 once closed: ask
        // until it says no more). Asking libnbd for a completed request when none is has it format
        // "no in-flight command has completed yet" as its error — on most wake-ups of the loop,
        // ~60,000 times for 256 MiB over TLS, whose replies arrive a 16 KiB record at a time.
        int completed = inFlight.size() - connection.aioInFlight();
        for (int i = 0; i < completed && !inFlight.isEmpty(); i++) {
            long cookie;
            try {
                cookie = connection.aioPeekCommandCompleted();
            } catch (NbdException e) {
                return;
            }
            if (cookie <= 0) {
                return;
            }
            Request r = inFlight.remove(cookie);
            boolean ok = false;
            try {
                connection.aioCommandCompleted(cookie);
                ok = true;
                if (r != null) {
                    r.succeed();
                }
            } catch (NbdException e) {
                if (r != null) {
                    r.fail(e);
                }
            }
            if (r != null) {
                NbdRequestObserver.current().completed(r.kind.operation, System.nanoTime() - r.submitted, ok);
            }
        }
    }

    void expire(long now, long timeoutNanos) {
        for (Request r : inFlight.values()) {
            if (now - r.deadline > 0) {
                breakWith(new NbdException(r.kind.name().toLowerCase(),
                        "no reply from the server within " + (timeoutNanos / 1_000_000_000L) + " s (" + r.describe()
                                + ")", NbdException.ETIMEDOUT));
                return;
            }
        }
    }

    /** Fails every pending request with {@code cause}; their buffers stay pinned until close. */
    void breakWith(NbdException cause) {
        if (broken == null) {
            broken = cause;
        }
        boolean dead;
        try {
            dead = connection.aioIsDead();
        } catch (NbdException e) {
            dead = true;
        }
        for (Request r : inFlight.values()) {
            if (dead) {
                r.fail(cause);
            } else {
                abandoned.add(r);
                r.future.completeExceptionally(cause);
            }
        }
        inFlight.clear();
    }

    /**
     * Closes the connection: pending requests fail; a connection with nothing left in libnbd
     * says goodbye first, without holding the loop ({@link #sayingGoodbye}), the others are
     * closed at once. The close future completes once the handle is closed.
     */
    void closeOnLoop() {
        if (closed) {
            return;
        }
        closed = true;
        for (Request r : inFlight.values()) {
            abandoned.add(r);
            r.future.completeExceptionally(new NbdException(r.kind.name().toLowerCase(),
                    "the connection was closed with the request pending", NbdException.ENOTCONN));
        }
        inFlight.clear();
        if (abandoned.isEmpty() && broken == null && connection.startGoodbye() && !connection.goodbyeDone()) {
            sayingGoodbye = true;
            goodbyeUntil = System.nanoTime() + NbdConnection.GOODBYE_NANOS;
            directionStale = true;
            return;
        }
        finishClose();
    }

    /** Closes at once, a goodbye under way included (the loop stops). */
    void closeNow() {
        closeOnLoop();
        if (sayingGoodbye) {
            finishClose();
        }
    }

    boolean sayingGoodbye() {
        return sayingGoodbye;
    }

    /** How long the goodbye may still take, in nanoseconds (≤ 0: over). */
    long goodbyeLeft(long now) {
        return goodbyeUntil - now;
    }

    /** Ends a goodbye whose time is up: the connection is closed without waiting longer. */
    void expireGoodbye(long now) {
        if (sayingGoodbye && goodbyeLeft(now) <= 0) {
            finishClose();
        }
    }

    /** Tells libnbd what poll saw on the socket. */
    private void notifyLibnbd(short revents) throws NbdException {
        if ((revents & LibC.POLLNVAL) != 0) {
            throw new NbdException("poll", "the connection's socket is no longer valid", NbdException.ENOTCONN);
        }
        if ((revents & (LibC.POLLIN | LibC.POLLHUP | LibC.POLLERR)) != 0) {
            connection.aioNotifyRead();
        }
        if ((revents & LibC.POLLOUT) != 0) {
            connection.aioNotifyWrite();
        }
    }

    private void onGoodbyeReady(short revents) {
        try {
            notifyLibnbd(revents);
        } catch (NbdException e) {
            finishClose(); // the server went away (or the socket): what a goodbye waits for
            return;
        }
        if (connection.goodbyeDone()) {
            finishClose();
        }
    }

    private void finishClose() {
        sayingGoodbye = false;
        connection.close(); // after nbd_close libnbd no longer touches any buffer
        for (Request r : abandoned) {
            if (r.buffer != null) {
                r.buffer.unpin();
            }
        }
        abandoned.clear();
        loop.detach(this);
        closedFuture.complete(null);
    }
}
