package org.blockferry.nbd;

import org.blockferry.nbd.Raw.LibC;
import org.blockferry.nbd.Raw.LibNbd;

import com.kenai.jffi.MemoryIO;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import jnr.ffi.LastError;

/**
 * One thread that drives libnbd's asynchronous API for the connections attached to it: it
 * issues {@code nbd_aio_*} requests, waits on the sockets with {@code poll(2)}, and completes
 * each request's future when libnbd retires it.
 *
 * <p>Requests are submitted from any thread; they queue and the loop is woken through an
 * eventfd only when it sleeps. Futures complete on the loop thread: keep their continuations
 * short. A request without a reply within the timeout breaks its connection (a server that
 * stops answering must not hang a copy). Buffers stay pinned until libnbd is done with them.
 */
public final class NbdEventLoop implements AutoCloseable {
    private static final int POLLFD_SIZE = 8;
    private static final long IDLE_CHECK_MILLIS = 1000;
    /** How often a stopping loop that waits for replies looks at its deadline. */
    private static final int DRAIN_POLL_MILLIS = 20;

    private final NativeLibraries lib;
    private final LibC libc;
    private final String name;
    private final long timeoutNanos;
    private final Queue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    private final List<AsyncConnection> attached = new ArrayList<>();
    private final int eventFd;
    private final ByteBuffer eventBuffer = ByteBuffer.allocateDirect(8).order(ByteOrder.nativeOrder());
    private final long eventAddress;
    private final long wakeValueAddress;
    private final Thread thread;
    @SuppressWarnings("unused") // keeps the memory behind wakeValueAddress alive
    private final ByteBuffer wakeValue;
    private volatile boolean sleeping;
    private volatile boolean stopping;
    /** Set by {@link #stopAfterReplies}: until when (nanoTime) a stopping loop waits for replies. */
    private volatile boolean draining;
    private volatile long drainUntil;
    private ByteBuffer pollFds = ByteBuffer.allocateDirect(POLLFD_SIZE * 8).order(ByteOrder.nativeOrder());
    private AsyncConnection[] polled = new AsyncConnection[8];
    private long lastTimeoutCheck = System.nanoTime();

    private NbdEventLoop(NativeLibraries lib, String name, Duration requestTimeout) throws NbdException {
        this.lib = lib;
        this.libc = lib.libc;
        this.name = name;
        this.timeoutNanos = requestTimeout.toNanos();
        this.eventFd = libc.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK);
        if (eventFd < 0) {
            throw new NbdException("eventfd", "cannot create the event loop's wake-up descriptor",
                    LastError.getLastError(lib.runtime));
        }
        this.eventAddress = MemoryIO.getInstance().getDirectBufferAddress(eventBuffer);
        ByteBuffer one = ByteBuffer.allocateDirect(8).order(ByteOrder.nativeOrder());
        one.putLong(0, 1L);
        this.wakeValue = one;
        this.wakeValueAddress = MemoryIO.getInstance().getDirectBufferAddress(one);
        this.thread = new Thread(this::run, name);
        this.thread.setDaemon(true);
    }

    /** Starts a loop thread called {@code name}; requests unanswered after {@code requestTimeout} fail. */
    public static NbdEventLoop start(String name, Duration requestTimeout) throws NbdException {
        if (requestTimeout.isNegative() || requestTimeout.isZero()) {
            throw new IllegalArgumentException("request timeout must be positive, got " + requestTimeout);
        }
        NbdEventLoop loop = new NbdEventLoop(NativeLibraries.get(), name, requestTimeout);
        loop.thread.start();
        return loop;
    }

    /**
     * Hands {@code connection} to this loop. From now on only its asynchronous calls and its
     * cached properties may be used; {@link AsyncConnection#close()} closes it.
     */
    public AsyncConnection attach(NbdConnection connection) throws NbdException {
        AsyncConnection async = new AsyncConnection(this, connection, connection.aioGetFd());
        // Not waited for: the loop runs its tasks in order, so the connection is attached before
        // any request submitted once this returns.
        if (!execute(() -> attached.add(async))) {
            throw closedError();
        }
        return async;
    }

    public String name() {
        return name;
    }

    // ---- submission side (any thread) ----

    void submit(Request request) {
        if (!execute(() -> issue(request))) {
            request.fail(closedError());
        }
    }

    void execute(Runnable task, CompletableFuture<?> onRejected) {
        if (!execute(task)) {
            onRejected.completeExceptionally(closedError());
        }
    }

    private boolean execute(Runnable task) {
        if (stopping) {
            return false;
        }
        tasks.add(task);
        if (sleeping) {
            wake();
        }
        return true;
    }

    private NbdException closedError() {
        return new NbdException("submit", "the NBD event loop " + name + " is closed", NbdException.ENOTCONN);
    }

    private void wake() {
        // An eventfd takes whole 8-byte writes; EAGAIN only at counter overflow, when the loop
        // is awake anyway.
        libc.write(eventFd, wakeValueAddress, 8);
    }

    // ---- loop thread ----

    private void run() {
        try {
            while (true) {
                runTasks();
                reapAll();
                boolean awaitingReplies = stopping && awaitingReplies();
                if (stopping && tasks.isEmpty() && !awaitingReplies) {
                    break;
                }
                int count = preparePoll();
                sleeping = true;
                if (!tasks.isEmpty() || stopping && !awaitingReplies) {
                    sleeping = false;
                    continue;
                }
                int ready = libc.poll(MemoryIO.getInstance().getDirectBufferAddress(pollFds), count,
                        awaitingReplies ? DRAIN_POLL_MILLIS : pollTimeout());
                sleeping = false;
                if (ready < 0) {
                    int errno = LastError.getLastError(lib.runtime);
                    if (errno != LibC.EINTR) {
                        throw new IllegalStateException("poll failed with errno " + errno);
                    }
                    continue;
                }
                if (ready > 0) {
                    dispatch(count);
                }
                checkTimeouts();
                expireGoodbyes();
            }
        } catch (Throwable fatal) {
            stopping = true;
            for (AsyncConnection c : List.copyOf(attached)) {
                c.breakWith(new NbdException("event loop", "the NBD event loop " + name + " stopped: " + fatal,
                        NbdException.ENOTCONN));
            }
        } finally {
            for (AsyncConnection c : List.copyOf(attached)) {
                c.closeNow();
            }
            attached.clear();
            Runnable task;
            while ((task = tasks.poll()) != null) {
                task.run();
            }
            libc.close(eventFd);
        }
    }

    private void runTasks() {
        Runnable task;
        while ((task = tasks.poll()) != null) {
            task.run();
        }
    }

    private void issue(Request request) {
        request.connection.issue(request, timeoutNanos);
    }

    private void reapAll() {
        for (int i = 0; i < attached.size(); i++) {
            attached.get(i).reapIfDue();
        }
    }

    private int preparePoll() {
        int n = 0;
        ensurePollCapacity(attached.size() + 1);
        putPollFd(n++, eventFd, LibC.POLLIN);
        for (AsyncConnection c : attached) {
            short events = c.pollEvents();
            if (events != 0) {
                polled[n] = c;
                putPollFd(n++, c.fd, events);
            }
        }
        return n;
    }

    /** Whether a loop stopping by {@link #stopAfterReplies} still waits: requests in flight, time left. */
    private boolean awaitingReplies() {
        return draining && System.nanoTime() - drainUntil < 0 && anyInFlight();
    }

    private int pollTimeout() {
        long timeout = -1;
        long now = 0;
        for (AsyncConnection c : attached) {
            if (c.hasRequestsInFlight() && timeout < 0) {
                timeout = IDLE_CHECK_MILLIS;
            }
            if (c.sayingGoodbye()) { // wake for its deadline
                now = now == 0 ? System.nanoTime() : now;
                long millis = Math.max(1, (c.goodbyeLeft(now) + 999_999) / 1_000_000);
                timeout = timeout < 0 ? millis : Math.min(timeout, millis);
            }
        }
        return (int) timeout;
    }

    /** Closes the connections whose goodbye has had its time. */
    private void expireGoodbyes() {
        long now = 0;
        for (int i = attached.size() - 1; i >= 0; i--) { // a closed one leaves the list
            AsyncConnection c = attached.get(i);
            if (c.sayingGoodbye()) {
                now = now == 0 ? System.nanoTime() : now;
                c.expireGoodbye(now);
            }
        }
    }

    private boolean anyInFlight() {
        for (AsyncConnection c : attached) {
            if (c.hasRequestsInFlight()) {
                return true;
            }
        }
        return false;
    }

    private void dispatch(int count) {
        short eventRevents = pollFds.getShort(6);
        if (eventRevents != 0) {
            libc.read(eventFd, eventAddress, 8);
        }
        for (int i = 1; i < count; i++) {
            short revents = pollFds.getShort(i * POLLFD_SIZE + 6);
            if (revents != 0) {
                polled[i].onReady(revents);
            }
            polled[i] = null;
        }
    }

    private void checkTimeouts() {
        long now = System.nanoTime();
        if (now - lastTimeoutCheck < IDLE_CHECK_MILLIS * 1_000_000L) {
            return;
        }
        lastTimeoutCheck = now;
        for (AsyncConnection c : attached) {
            c.expire(now, timeoutNanos);
        }
    }

    void detach(AsyncConnection connection) {
        attached.remove(connection);
    }

    private void ensurePollCapacity(int fds) {
        if (pollFds.capacity() < fds * POLLFD_SIZE) {
            pollFds = ByteBuffer.allocateDirect(fds * 2 * POLLFD_SIZE).order(ByteOrder.nativeOrder());
        }
        if (polled.length < fds) {
            polled = new AsyncConnection[fds * 2];
        }
    }

    private void putPollFd(int index, int fd, short events) {
        int base = index * POLLFD_SIZE;
        pollFds.putInt(base, fd);
        pollFds.putShort(base + 4, events);
        pollFds.putShort(base + 6, (short) 0);
    }

    boolean onLoopThread() {
        return Thread.currentThread() == thread;
    }

    /**
     * Begins a graceful stop and returns at once: nothing new is submitted, the replies to the
     * requests in flight are awaited for up to {@code grace} (a server may abort when a client
     * drops a connection with requests pending: nbdkit 1.32 does), then the loop stops as
     * {@link #close()} describes. {@link #close()} waits for it.
     */
    public void stopAfterReplies(Duration grace) {
        drainUntil = System.nanoTime() + grace.toNanos();
        draining = true;
        stopping = true;
        wake();
    }

    /**
     * Stops the loop: attached connections are closed, their pending requests fail, and the
     * thread exits. Waits for the thread (after {@link #stopAfterReplies}: for the replies first).
     */
    @Override
    public void close() {
        stopping = true;
        wake();
        if (!onLoopThread()) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** One request on its way through libnbd. */
    static final class Request {
        enum Kind {
            PREAD, PWRITE, ZERO, TRIM, FLUSH;

            final String operation = name().toLowerCase(java.util.Locale.ROOT);
        }

        final Kind kind;
        final AsyncConnection connection;
        final NbdBuffer buffer;
        final int bufferOffset;
        final long length;
        final long offset;
        final int flags;
        final CompletableFuture<Void> future = new CompletableFuture<>();
        long deadline;
        long submitted;

        Request(Kind kind, AsyncConnection connection, NbdBuffer buffer, int bufferOffset, long length,
                long offset, int flags) {
            this.kind = kind;
            this.connection = connection;
            this.buffer = buffer;
            this.bufferOffset = bufferOffset;
            this.length = length;
            this.offset = offset;
            this.flags = flags;
        }

        void succeed() {
            release();
            future.complete(null);
        }

        void fail(Throwable cause) {
            release();
            future.completeExceptionally(cause);
        }

        private void release() {
            if (buffer != null) {
                buffer.unpin();
            }
        }

        String describe() {
            return kind.name().toLowerCase() + " " + length + " bytes at " + offset;
        }
    }

    static Map<Long, Request> newInFlightMap() {
        return new HashMap<>();
    }
}
