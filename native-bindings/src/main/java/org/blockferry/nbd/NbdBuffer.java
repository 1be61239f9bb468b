package org.blockferry.nbd;

import com.kenai.jffi.MemoryIO;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Direct memory that NBD requests read into and write from, with no copy in between.
 *
 * <p>A buffer is <em>pinned</em> while an asynchronous request uses it: {@link #close()} then
 * fails loudly instead of letting the memory be reused under libnbd. After close every method
 * throws. The memory itself is JVM-managed direct memory, so a view that outlives the buffer
 * can never reach freed memory.
 */
public final class NbdBuffer implements AutoCloseable {
    private final ByteBuffer memory;
    private final long address;
    private final int size;
    private final AtomicInteger pins = new AtomicInteger();
    private volatile boolean closed;

    private NbdBuffer(int size) {
        this.size = size;
        this.memory = ByteBuffer.allocateDirect(Math.max(size, 1));
        this.address = MemoryIO.getInstance().getDirectBufferAddress(memory);
    }

    /** A new buffer of {@code size} bytes (zero-filled). */
    public static NbdBuffer allocate(int size) {
        if (size < 0) {
            throw new IllegalArgumentException("buffer size must be >= 0, got " + size);
        }
        return new NbdBuffer(size);
    }

    public int size() {
        return size;
    }

    /** A view of {@code [offset, offset + length)}; it must not be used after {@link #close()}. */
    public ByteBuffer slice(int offset, int length) {
        checkRange(offset, length);
        return memory.slice(offset, length);
    }

    /** The native address of byte {@code offset}, for the binding's calls. */
    long address(int offset, long length) {
        checkRange(offset, length);
        return address + offset;
    }

    void pin() {
        checkOpen();
        pins.incrementAndGet();
    }

    void unpin() {
        if (pins.decrementAndGet() < 0) {
            pins.incrementAndGet();
            throw new IllegalStateException("NbdBuffer unpinned more often than pinned");
        }
    }

    /** How many NBD requests use this buffer right now. */
    public int pins() {
        return pins.get();
    }

    private void checkRange(int offset, long length) {
        checkOpen();
        if (offset < 0 || length < 0 || offset + length > size) {
            throw new IndexOutOfBoundsException("range " + offset + "+" + length + " outside buffer of " + size + " bytes");
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("NbdBuffer used after close");
        }
    }

    public boolean isClosed() {
        return closed;
    }

    /** Releases the buffer. Fails if a request still uses it. Closing twice is a no-op. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        int inUse = pins.get();
        if (inUse != 0) {
            throw new IllegalStateException("NbdBuffer closed while " + inUse + " NBD request(s) still use it");
        }
        closed = true;
    }
}
