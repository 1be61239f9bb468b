package org.blockferry.nbd;

import com.kenai.jffi.MemoryIO;
import java.lang.ref.Cleaner;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;
import jnr.ffi.Pointer;

/**
 * Direct memory that NBD requests read into and write from, with no copy in between.
 *
 * <p>A buffer is <em>pinned</em> while an asynchronous request uses it: {@link #close()} then
 * fails loudly instead of letting the memory be reused under libnbd. After close every method
 * throws. The memory is freed only once the buffer and every view of it are unreachable (the
 * JVM's direct memory, or for {@link #allocate(int, boolean) huge-page buffers} a mapping a
 * cleaner unmaps), so a view that outlives the buffer can never reach freed memory.
 */
public final class NbdBuffer implements AutoCloseable {
    private final ByteBuffer memory;
    private final long address;
    private final int size;
    private final AtomicInteger pins = new AtomicInteger();
    private volatile boolean closed;

    /** The size of a transparent huge page on x86-64 and arm64 (4 KiB base pages). */
    public static final int HUGE_PAGE = 2 << 20;

    private NbdBuffer(ByteBuffer memory, int size) {
        this.size = size;
        this.memory = memory;
        this.address = MemoryIO.getInstance().getDirectBufferAddress(memory);
    }

    /** A new buffer of {@code size} bytes (zero-filled), in the JVM's direct memory. */
    public static NbdBuffer allocate(int size) {
        return allocate(size, false);
    }

    /**
     * A new buffer of {@code size} bytes (zero-filled). With {@code hugePages}, a buffer of at
     * least {@link #HUGE_PAGE} bytes is a mapping of its own that the kernel is asked to back with
     * transparent huge pages ({@code madvise(MADV_HUGEPAGE)}): the kernel's copies to and from
     * the sockets then walk 2 MiB pages instead of 4 KiB ones. Where the kernel has no
     * transparent huge pages (or {@code enabled} is {@code never}) it is an ordinary mapping;
     * where the mapping is refused, JVM direct memory.
     */
    public static NbdBuffer allocate(int size, boolean hugePages) {
        if (size < 0) {
            throw new IllegalArgumentException("buffer size must be >= 0, got " + size);
        }
        ByteBuffer mapped = hugePages && size >= HUGE_PAGE ? Mapping.create(size) : null;
        return new NbdBuffer(mapped != null ? mapped : ByteBuffer.allocateDirect(Math.max(size, 1)), size);
    }

    /** Anonymous mappings for buffers, unmapped once their buffer (and its every view) is unreachable. */
    private static final class Mapping implements Runnable {
        private static final Cleaner UNMAP = Cleaner.create(r -> {
            Thread t = new Thread(r, "nbd-buffer-unmap");
            t.setDaemon(true);
            return t;
        });
        private final Raw.LibC libc;
        private final long address;
        private final long length;

        private Mapping(Raw.LibC libc, long address, long length) {
            this.libc = libc;
            this.address = address;
            this.length = length;
        }

        /** A mapped buffer of {@code size} bytes, or null (no libc binding, or the kernel refused). */
        static ByteBuffer create(int size) {
            Raw.LibC libc;
            try {
                libc = NativeLibraries.get().libc;
            } catch (NbdException e) {
                return null;
            }
            Pointer p = libc.mmap(null, size, Raw.LibC.PROT_READ_WRITE, Raw.LibC.MAP_PRIVATE_ANONYMOUS, -1, 0);
            if (p == null || p.address() == -1L) {
                return null;
            }
            // advice only: refused (no transparent huge pages in this kernel), the mapping still serves
            libc.madvise(p.address(), size, Raw.LibC.MADV_HUGEPAGE);
            ByteBuffer memory = MemoryIO.getInstance().newDirectByteBuffer(p.address(), size);
            // every slice refers to this buffer (its attachment): unmapped after the last view is gone
            UNMAP.register(memory, new Mapping(libc, p.address(), size));
            return memory;
        }

        @Override
        public void run() {
            libc.munmap(address, length);
        }
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
