package org.blockferry.nbd;

import org.blockferry.nbd.Raw.LibC;
import org.blockferry.nbd.Raw.LibNbd;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import jnr.ffi.Pointer;

/**
 * One libnbd handle: a connection to one NBD export, with libnbd's calls under Java names.
 *
 * <p>Settings ({@link #setTls}, {@link #addMetaContext}, ...) go before {@link #connect}. Every
 * call checks that the handle is open and turns -1 into an {@link NbdException} read on the same
 * thread. Calls may come from several threads (libnbd locks the handle); {@link #close()} waits
 * for calls in progress. Asynchronous requests go through an {@link NbdEventLoop}.
 */
public final class NbdConnection implements AutoCloseable {
    /** Command flags, libnbd's {@code LIBNBD_CMD_FLAG_*}. */
    public static final int CMD_FLAG_FUA = 0x01;
    public static final int CMD_FLAG_NO_HOLE = 0x02;
    public static final int CMD_FLAG_FAST_ZERO = 0x10;

    /** The meta context for allocation status. */
    public static final String BASE_ALLOCATION = "base:allocation";

    /** The largest range one block status call asks for (the protocol carries 32-bit lengths). */
    static final long MAX_BLOCK_STATUS_LENGTH = 1L << 31;

    private final NativeLibraries lib;
    private final LibNbd nbd;
    private final Pointer handle;
    private final long handleAddress;
    private final ExtentCallback extentCallback;
    private final ReentrantReadWriteLock lifecycle = new ReentrantReadWriteLock();
    private volatile boolean closed;
    private volatile boolean connected;

    private long size;
    private int flags;
    private static final int F_READ_ONLY = 1, F_FLUSH = 2, F_TRIM = 4, F_ZERO = 8, F_FAST_ZERO = 16, F_MULTI_CONN = 32;
    /** A server that closed the socket during the handshake, in words an operator can act on. */
    private static final String HUNG_UP = "the server closed the connection before the NBD handshake finished"
            + " (a connection limit, or the server stopped)";

    private NbdConnection(NativeLibraries lib, Pointer handle) {
        this.lib = lib;
        this.nbd = lib.nbd;
        this.handle = handle;
        this.handleAddress = handle.address();
        this.extentCallback = new ExtentCallback();
    }

    /**
     * Loads libnbd on a background thread now, so that the first {@link #create()} does not
     * wait for it (loading generates the binding's classes, a noticeable part of start-up).
     * {@code ciphers} runs first on that thread (it may read the configuration): GnuTLS takes
     * the cipher preference when it loads.
     */
    public static java.util.concurrent.CompletableFuture<Void> preloadLibrary(
            java.util.function.Supplier<TlsCiphers> ciphers) {
        java.util.concurrent.CompletableFuture<Void> done = new java.util.concurrent.CompletableFuture<>();
        Thread t = new Thread(() -> {
            try {
                preferTlsCiphers(ciphers.get());
                NativeLibraries.get();
                done.complete(null);
            } catch (NbdException | RuntimeException e) {
                done.completeExceptionally(e); // create() reports it again, with the install hint
            }
        }, "libnbd-preload");
        t.setDaemon(true);
        t.start();
        return done;
    }

    /**
     * The TLS cipher preference libnbd is to load with ({@link TlsCiphers}). Effective only before
     * the library loads; returns false when it loaded already with another preference.
     */
    public static boolean preferTlsCiphers(TlsCiphers preference) {
        return NativeLibraries.preferCiphers(preference);
    }

    /** What the TLS cipher preference did when libnbd loaded, for logs. */
    public static String tlsCiphersInEffect() {
        return NativeLibraries.ciphersInEffect();
    }

    /** A new, unconnected handle ({@code nbd_create}). */
    public static NbdConnection create() throws NbdException {
        NativeLibraries lib = NativeLibraries.get();
        Pointer h = lib.nbd.nbd_create();
        if (h == null || h.address() == 0) {
            throw NbdException.last(lib.nbd, "nbd_create");
        }
        NbdConnection c = new NbdConnection(lib, h);
        // Our buffers are only read after a successful pread: skip libnbd's memset of every buffer.
        c.check(lib.nbd.nbd_set_pread_initialize(h, false), "nbd_set_pread_initialize");
        return c;
    }

    /**
     * Creates a handle, applies {@code options} and connects to {@code uri}; then runs the options'
     * {@link NbdOptions.ConnectCheck}, if any, and closes the connection when it throws.
     */
    public static NbdConnection open(String uri, NbdOptions options) throws NbdException {
        NbdConnection c = create();
        try {
            options.applyTo(c);
            c.connect(uri, options.connectTimeout());
            if (options.connectCheck() != null) {
                options.connectCheck().connected();
            }
            return c;
        } catch (NbdException | RuntimeException e) {
            c.close();
            throw e;
        }
    }

    public void setHandleName(String name) throws NbdException {
        call(() -> nbd.nbd_set_handle_name(handle, name), "nbd_set_handle_name");
    }

    public void setTls(TlsMode mode) throws NbdException {
        call(() -> nbd.nbd_set_tls(handle, mode.value), "nbd_set_tls");
    }

    public void setTlsUsername(String username) throws NbdException {
        call(() -> nbd.nbd_set_tls_username(handle, username), "nbd_set_tls_username");
    }

    public void setTlsPskFile(Path file) throws NbdException {
        call(() -> nbd.nbd_set_tls_psk_file(handle, file.toString()), "nbd_set_tls_psk_file");
    }

    /** Lets a URI name local files ({@code ?tls-psk-file=...}). */
    public void setUriAllowLocalFile(boolean allow) throws NbdException {
        call(() -> nbd.nbd_set_uri_allow_local_file(handle, allow), "nbd_set_uri_allow_local_file");
    }

    /** Asks for a meta context ({@code base:allocation}, {@code qemu:dirty-bitmap:NAME}) at connect. */
    public void addMetaContext(String name) throws NbdException {
        call(() -> nbd.nbd_add_meta_context(handle, name), "nbd_add_meta_context");
    }

    /** Connects to an NBD URI: nbd://, nbds://, nbd+unix://, nbds+unix://. */
    public void connect(String uri) throws NbdException {
        connect(uri, NbdOptions.DEFAULT_CONNECT_TIMEOUT);
    }

    /**
     * Connects to an NBD URI, failing with {@code ETIMEDOUT} if the connection and handshake
     * (TLS, options, meta contexts, the server's open of the export) take longer than {@code timeout}.
     */
    public void connect(String uri, java.time.Duration timeout) throws NbdException {
        try {
            handshake(uri, timeout);
        } catch (NbdException e) {
            // one name for the step, whichever libnbd call of it failed (as nbd_connect_uri would)
            String message = e.nbdMessage();
            if (message.contains("gnutls_handshake") && NativeLibraries.chachaDropped()) {
                message += " (if the server allows only CHACHA20-POLY1305: this node does not offer it,"
                        + " blockferry.nbd.tls-ciphers; such a server needs tls-ciphers = gnutls-default)";
            }
            throw e.operation().equals("nbd_connect_uri") && message.equals(e.nbdMessage()) ? e
                    : new NbdException("nbd_connect_uri", message, e.errno());
        }
        size = query(() -> nbd.nbd_get_size(handle), "nbd_get_size");
        flags = flag(nbd.nbd_is_read_only(handle), "nbd_is_read_only", F_READ_ONLY)
                | flag(nbd.nbd_can_flush(handle), "nbd_can_flush", F_FLUSH)
                | flag(nbd.nbd_can_trim(handle), "nbd_can_trim", F_TRIM)
                | flag(nbd.nbd_can_zero(handle), "nbd_can_zero", F_ZERO)
                | flag(nbd.nbd_can_fast_zero(handle), "nbd_can_fast_zero", F_FAST_ZERO)
                | flag(nbd.nbd_can_multi_conn(handle), "nbd_can_multi_conn", F_MULTI_CONN);
        connected = true;
    }

    /** Connects without blocking in libnbd, polling the handshake until it is done or {@code timeout} passes. */
    private void handshake(String uri, java.time.Duration timeout) throws NbdException {
        call(() -> nbd.nbd_aio_connect_uri(handle, uri), "nbd_aio_connect_uri");
        long deadline = System.nanoTime() + timeout.toNanos();
        while (call(() -> nbd.nbd_aio_is_ready(handle), "nbd_aio_is_ready") != 1) {
            if (call(() -> nbd.nbd_aio_is_dead(handle), "nbd_aio_is_dead") == 1
                    || call(() -> nbd.nbd_aio_is_closed(handle), "nbd_aio_is_closed") == 1) {
                throw new NbdException("nbd_connect_uri", HUNG_UP, NbdException.ECONNRESET);
            }
            long leftMillis = java.util.concurrent.TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            if (leftMillis <= 0) {
                throw new NbdException("nbd_connect_uri", "no NBD handshake from " + uri + " within "
                        + timeout.toSeconds() + " s (the server accepted the connection but did not answer)",
                        NbdException.ETIMEDOUT);
            }
            try {
                call(() -> nbd.nbd_poll(handle, (int) Math.min(leftMillis, 1000)), "nbd_poll");
            } catch (NbdException e) {
                throw hungUp(e) ? new NbdException("nbd_connect_uri", HUNG_UP + " (libnbd: " + e.nbdMessage() + ")",
                        NbdException.ECONNRESET) : e;
            }
        }
    }

    /**
     * libnbd's words for a server that closed the socket during the handshake: a read of 0 bytes
     * once the greeting is awaited, or, when the hang-up arrives before the connect completed,
     * a read event the connecting state does not expect ("external event 0 is invalid in state
     * CONNECT.START"; libnbd reports POLLHUP as a read).
     */
    private static boolean hungUp(NbdException e) {
        String m = e.nbdMessage();
        return m.contains("server disconnected unexpectedly")
                || (m.contains("is invalid in state") && m.contains("CONNECT."));
    }

    private int flag(int result, String op, int bit) throws NbdException {
        check(result, op);
        return result == 1 ? bit : 0;
    }

    /** The export's size in bytes. */
    public long size() {
        requireConnected();
        return size;
    }

    public boolean isReadOnly() {
        return has(F_READ_ONLY);
    }

    public boolean canFlush() {
        return has(F_FLUSH);
    }

    public boolean canTrim() {
        return has(F_TRIM);
    }

    public boolean canZero() {
        return has(F_ZERO);
    }

    public boolean canFastZero() {
        return has(F_FAST_ZERO);
    }

    /** The server allows several connections that see each other's writes and flushes. */
    public boolean canMultiConn() {
        return has(F_MULTI_CONN);
    }

    private boolean has(int bit) {
        requireConnected();
        return (flags & bit) != 0;
    }

    /** Whether the server agreed to {@code context} at connect time. */
    public boolean canMetaContext(String context) throws NbdException {
        return call(() -> nbd.nbd_can_meta_context(handle, context), "nbd_can_meta_context") == 1;
    }

    /** A block size constraint of the server, or 0 when it states none. */
    public long blockSize(BlockSize which) throws NbdException {
        return query(() -> nbd.nbd_get_block_size(handle, which.value), "nbd_get_block_size");
    }

    /** Reads {@code length} bytes at {@code offset} into {@code buffer} from {@code bufferOffset}. */
    public void pread(NbdBuffer buffer, int bufferOffset, int length, long offset) throws NbdException {
        long address = buffer.address(bufferOffset, length);
        call(() -> nbd.nbd_pread(handle, address, length, offset, 0), "nbd_pread");
    }

    /** Reads {@code buffer.remaining()} bytes at {@code offset} into a direct buffer. */
    public void pread(ByteBuffer buffer, long offset) throws NbdException {
        long address = directAddress(buffer);
        int length = buffer.remaining();
        call(() -> nbd.nbd_pread(handle, address, length, offset, 0), "nbd_pread");
    }

    public void pwrite(NbdBuffer buffer, int bufferOffset, int length, long offset, int flags) throws NbdException {
        long address = buffer.address(bufferOffset, length);
        call(() -> nbd.nbd_pwrite(handle, address, length, offset, flags), "nbd_pwrite");
    }

    /** Writes {@code buffer.remaining()} bytes of a direct buffer at {@code offset}. */
    public void pwrite(ByteBuffer buffer, long offset, int flags) throws NbdException {
        long address = directAddress(buffer);
        int length = buffer.remaining();
        call(() -> nbd.nbd_pwrite(handle, address, length, offset, flags), "nbd_pwrite");
    }

    /** Makes {@code [offset, offset + length)} read as zeros (NBD_CMD_WRITE_ZEROES). */
    public void zero(long length, long offset, int flags) throws NbdException {
        call(() -> nbd.nbd_zero(handle, length, offset, flags), "nbd_zero");
    }

    public void trim(long length, long offset, int flags) throws NbdException {
        call(() -> nbd.nbd_trim(handle, length, offset, flags), "nbd_trim");
    }

    public void flush() throws NbdException {
        call(() -> nbd.nbd_flush(handle, 0), "nbd_flush");
    }

    /**
     * Block status of {@code context} from {@code offset}, at most {@code length} bytes (one
     * request). The server may describe less than asked: call again from the last extent's end.
     * Extents are clipped to the range asked for.
     */
    public List<NbdExtent> blockStatus(String context, long offset, long length) throws NbdException {
        long count = Math.min(length, MAX_BLOCK_STATUS_LENGTH);
        List<NbdExtent> extents = new ArrayList<>();
        long callback = extentCallback.address();
        synchronized (extentCallback) {
            extentCallback.begin(context, extents);
            try {
                call(() -> lib.byValue.blockStatus(handleAddress, count, offset, callback, 0), "nbd_block_status");
            } finally {
                extentCallback.end();
            }
        }
        return clip(extents, offset, offset + count);
    }

    private static List<NbdExtent> clip(List<NbdExtent> extents, long from, long to) {
        List<NbdExtent> clipped = new ArrayList<>(extents.size());
        for (NbdExtent e : extents) {
            long start = Math.max(e.offset(), from);
            long end = Math.min(e.end(), to);
            if (end > start) {
                clipped.add(start == e.offset() && end == e.end() ? e : new NbdExtent(start, end - start, e.flags()));
            }
        }
        return clipped;
    }

    // ---- asynchronous primitives, driven by NbdEventLoop on its own thread ----
    // Each goes through aio(...) with a lambda that captures nothing (its arguments are passed
    // through): such a lambda is one constant object. A capturing lambda is a new object at every
    // call, and the launcher's C1-only JIT allocates those through Unsafe.allocateInstance, a call
    // into the VM (with a JNI handle) — several per request on this path (bench/README.md).

    long aioPread(long address, long count, long offset) throws NbdException {
        return aio((c, a, n, o, f) -> c.lib.byValue.aioPread(c.handleAddress, a, n, o, f), "nbd_aio_pread",
                address, count, offset, 0);
    }

    long aioPwrite(long address, long count, long offset, int flags) throws NbdException {
        return aio((c, a, n, o, f) -> c.lib.byValue.aioPwrite(c.handleAddress, a, n, o, f), "nbd_aio_pwrite",
                address, count, offset, flags);
    }

    long aioZero(long count, long offset, int flags) throws NbdException {
        return aio((c, n, o, unused, f) -> c.lib.byValue.aioZero(c.handleAddress, n, o, f), "nbd_aio_zero",
                count, offset, 0, flags);
    }

    long aioTrim(long count, long offset, int flags) throws NbdException {
        return aio((c, n, o, unused, f) -> c.lib.byValue.aioTrim(c.handleAddress, n, o, f), "nbd_aio_trim",
                count, offset, 0, flags);
    }

    long aioFlush() throws NbdException {
        return aio((c, x, y, z, f) -> c.lib.byValue.aioFlush(c.handleAddress, f), "nbd_aio_flush", 0, 0, 0, 0);
    }

    int aioGetFd() throws NbdException {
        return call(() -> nbd.nbd_aio_get_fd(handle), "nbd_aio_get_fd");
    }

    /** Requests libnbd holds in flight (issued, not completed; completed ones not counted), -1 once closed. */
    int aioInFlight() {
        lifecycle.readLock().lock();
        try {
            return closed ? -1 : nbd.nbd_aio_in_flight(handle);
        } finally {
            lifecycle.readLock().unlock();
        }
    }

        int aioGetDirection() {
        lifecycle.readLock().lock();
        try {
            return closed ? 0 : nbd.nbd_aio_get_direction(handle);
        } finally {
            lifecycle.readLock().unlock();
        }
    }

    void aioNotifyRead() throws NbdException {
        aio((c, x, y, z, f) -> c.nbd.nbd_aio_notify_read(c.handle), "nbd_aio_notify_read", 0, 0, 0, 0);
    }

    void aioNotifyWrite() throws NbdException {
        aio((c, x, y, z, f) -> c.nbd.nbd_aio_notify_write(c.handle), "nbd_aio_notify_write", 0, 0, 0, 0);
    }

    boolean aioIsDead() throws NbdException {
        return call(() -> nbd.nbd_aio_is_dead(handle), "nbd_aio_is_dead") == 1;
    }

    /** The cookie of a finished request, 0 when none has finished yet. */
    long aioPeekCommandCompleted() throws NbdException {
        return aio((c, x, y, z, f) -> c.nbd.nbd_aio_peek_command_completed(c.handle),
                "nbd_aio_peek_command_completed", 0, 0, 0, 0);
    }

    /** Retires a finished request; throws its error if it failed. */
    void aioCommandCompleted(long cookie) throws NbdException {
        aio((c, k, y, z, f) -> c.nbd.nbd_aio_command_completed(c.handle, k), "nbd_aio_command_completed",
                cookie, 0, 0, 0);
    }

    // ---- plumbing ----

    @FunctionalInterface
    private interface IntCall {
        int invoke();
    }

    @FunctionalInterface
    private interface LongCall {
        long invoke();
    }

    /** A call on the event loop's path: {@code c} is the connection, the rest its arguments. */
    @FunctionalInterface
    private interface AioCall {
        long invoke(NbdConnection c, long a, long b, long d, int flags);
    }

    private int call(IntCall c, String op) throws NbdException {
        return (int) aio((self, x, y, z, f) -> c.invoke(), op, 0, 0, 0, 0);
    }

    private long query(LongCall c, String op) throws NbdException {
        return aio((self, x, y, z, f) -> c.invoke(), op, 0, 0, 0, 0);
    }

    private long aio(AioCall call, String op, long a, long b, long d, int flags) throws NbdException {
        lifecycle.readLock().lock();
        try {
            requireOpen(op);
            long r = call.invoke(this, a, b, d, flags);
            if (r == -1) {
                throw NbdException.last(nbd, op);
            }
            return r;
        } finally {
            lifecycle.readLock().unlock();
        }
    }

    private void check(int result, String op) throws NbdException {
        if (result == -1) {
            throw NbdException.last(nbd, op);
        }
    }

    private void requireOpen(String op) throws NbdException {
        if (closed) {
            throw new NbdException(op, "the connection is closed", NbdException.ENOTCONN);
        }
    }

    private void requireConnected() {
        if (!connected) {
            throw new IllegalStateException("NbdConnection is not connected");
        }
    }

    private static long directAddress(ByteBuffer buffer) {
        if (!buffer.isDirect()) {
            throw new IllegalArgumentException("NBD I/O needs a direct ByteBuffer");
        }
        return com.kenai.jffi.MemoryIO.getInstance().getDirectBufferAddress(buffer) + buffer.position();
    }

    public boolean isClosed() {
        return closed;
    }

    /** How long a close waits for the server to take the disconnect and close its end. */
    static final long GOODBYE_NANOS = java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(100);

    /**
     * Tells the server this client leaves ({@code NBD_CMD_DISC}, as the protocol asks, and over TLS
     * the TLS close) when nothing is in flight; without it a TLS server logs the end of every
     * connection as an error ("The TLS connection was non-properly terminated"). Waits at most
     * {@link #GOODBYE_NANOS} for the server to close its end; a connection that is broken, busy or
     * slow to answer is simply closed, as before. A connection of an event loop says goodbye on
     * the loop without waiting there ({@link #startGoodbye}, {@link #goodbyeDone}): this wait
     * is then over at once.
     */
    private void sayGoodbye() {
        if (!disconnectIfIdle()) {
            return;
        }
        try {
            long deadline = System.nanoTime() + GOODBYE_NANOS;
            while (nbd.nbd_aio_is_closed(handle) != 1 && nbd.nbd_aio_is_dead(handle) != 1) {
                long leftMillis = java.util.concurrent.TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                if (leftMillis <= 0 || nbd.nbd_poll(handle, (int) leftMillis) < 0) {
                    return;
                }
            }
        } catch (RuntimeException e) {
            // the close that follows ends the connection in any case
        }
    }

    /** Sends {@code NBD_CMD_DISC} when the connection is ready and idle; whether it did. */
    private boolean disconnectIfIdle() {
        try {
            return nbd.nbd_aio_is_ready(handle) == 1 && nbd.nbd_aio_in_flight(handle) == 0
                    && nbd.nbd_aio_disconnect(handle, 0) == 0;
        } catch (RuntimeException e) {
            return false;
        }
    }

    /**
     * The event loop's goodbye: sends {@code NBD_CMD_DISC} when the connection is connected, ready
     * and idle, and says whether it did — the loop then drives the connection until
     * {@link #goodbyeDone} or its deadline, and closes it; otherwise it closes it at once.
     */
    boolean startGoodbye() {
        lifecycle.readLock().lock();
        try {
            return !closed && connected && disconnectIfIdle();
        } finally {
            lifecycle.readLock().unlock();
        }
    }

    /** After {@link #startGoodbye}: whether the server has closed its end (or the connection died). */
    boolean goodbyeDone() {
        lifecycle.readLock().lock();
        try {
            return closed || nbd.nbd_aio_is_closed(handle) == 1 || nbd.nbd_aio_is_dead(handle) == 1;
        } catch (RuntimeException e) {
            return true;
        } finally {
            lifecycle.readLock().unlock();
        }
    }

    /** Closes the handle ({@code nbd_close}) after calls in progress return. Idempotent. */
    @Override
    public void close() {
        lifecycle.writeLock().lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            if (connected) {
                sayGoodbye();
            }
            nbd.nbd_close(handle);
            extentCallback.dispose();
        } finally {
            lifecycle.writeLock().unlock();
        }
    }
}
