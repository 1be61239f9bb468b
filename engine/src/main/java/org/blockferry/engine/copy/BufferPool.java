package org.blockferry.engine.copy;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import org.blockferry.nbd.NbdBuffer;

/**
 * The process's in-flight memory: at most {@code budget / bufferSize} direct buffers, shared by
 * every disk being copied. Buffers are created on first use and reused; a request that finds
 * none free waits (asynchronously, first come first served) — that wait is the backpressure
 * that bounds memory whatever the disks and servers do.
 */
public final class BufferPool {
    private final int bufferSize;
    private final int capacity;
    private final boolean hugePages;
    private final Deque<NbdBuffer> free = new ArrayDeque<>();
    private final Deque<Waiter> waiters = new ArrayDeque<>();
    private int created;

    private record Waiter(int count, CompletableFuture<Lease> future) {
    }

    private BufferPool(int bufferSize, int capacity, boolean hugePages) {
        this.bufferSize = bufferSize;
        this.capacity = capacity;
        this.hugePages = hugePages;
    }

    /** A pool of {@code budgetBytes / bufferSize} buffers (at least one) in the JVM's direct memory. */
    public static BufferPool create(long budgetBytes, int bufferSize) {
        return create(budgetBytes, bufferSize, false);
    }

    /**
     * A pool of {@code budgetBytes / bufferSize} buffers (at least one); with {@code hugePages}
     * they are backed by transparent huge pages where the kernel offers them
     * ({@link NbdBuffer#allocate(int, boolean)}, {@code blockferry.copy.huge-pages}).
     */
    public static BufferPool create(long budgetBytes, int bufferSize, boolean hugePages) {
        if (bufferSize <= 0) {
            throw new IllegalArgumentException("buffer size must be > 0, got " + bufferSize);
        }
        if (budgetBytes < bufferSize) {
            throw new org.blockferry.engine.endpoint.InvalidInputException("blockferry.copy.memory-budget",
                    "must hold at least one chunk (" + bufferSize + " bytes), got " + budgetBytes);
        }
        return new BufferPool(bufferSize, (int) Math.min(Integer.MAX_VALUE, budgetBytes / bufferSize), hugePages);
    }

    public int bufferSize() {
        return bufferSize;
    }

    /** How many buffers the budget allows. */
    public int capacity() {
        return capacity;
    }

    /** Buffers created so far (memory actually committed is at most this times the buffer size). */
    public synchronized int created() {
        return created;
    }

    public synchronized int available() {
        return free.size() + (capacity - created);
    }

    /** {@code count} buffers at once (all or none, so that two callers cannot deadlock). */
    public CompletableFuture<Lease> acquire(int count) {
        if (count < 1 || count > capacity) {
            throw new IllegalArgumentException("can acquire 1.." + capacity + " buffers, asked for " + count);
        }
        CompletableFuture<Lease> future = new CompletableFuture<>();
        Lease lease;
        synchronized (this) {
            if (!waiters.isEmpty() || available() < count) {
                waiters.add(new Waiter(count, future));
                return future;
            }
            lease = take(count);
        }
        future.complete(lease);
        return future;
    }

    private Lease take(int count) {
        List<NbdBuffer> buffers = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            NbdBuffer b = free.pollFirst();
            if (b == null) {
                b = NbdBuffer.allocate(bufferSize, hugePages);
                created++;
            }
            buffers.add(b);
        }
        return new Lease(buffers);
    }

    private void giveBack(List<NbdBuffer> buffers) {
        List<Waiter> ready = new ArrayList<>();
        List<Lease> leases = new ArrayList<>();
        synchronized (this) {
            for (NbdBuffer b : buffers) {
                if (b.pins() != 0) {
                    throw new IllegalStateException("buffer returned to the pool while an NBD request uses it");
                }
                free.addFirst(b);
            }
            while (!waiters.isEmpty() && available() >= waiters.peekFirst().count()) {
                Waiter w = waiters.pollFirst();
                ready.add(w);
                leases.add(take(w.count()));
            }
        }
        for (int i = 0; i < ready.size(); i++) {
            if (!ready.get(i).future().complete(leases.get(i))) {
                leases.get(i).release(); // the waiter gave up
            }
        }
    }

    /**
     * A user's share of the pool: at most {@code limit} buffers at once (one disk's pipeline
     * window). Acquisitions beyond it wait for this window, not for the whole pool.
     */
    public Window window(int limit) {
        if (limit < 1) {
            throw new IllegalArgumentException("window must allow at least one buffer");
        }
        return new Window(Math.min(limit, capacity));
    }

    /** See {@link #window(int)}. */
    public final class Window {
        private final int limit;
        private final Deque<Runnable> waiting = new ArrayDeque<>();
        private int held;

        private Window(int limit) {
            this.limit = limit;
        }

        /** One buffer, once this window and the pool both have room. */
        public CompletableFuture<Lease> acquire() {
            CompletableFuture<Lease> future = new CompletableFuture<>();
            Runnable start = () -> BufferPool.this.acquire(1).whenComplete((lease, error) -> {
                if (error != null) {
                    returned();
                    future.completeExceptionally(error);
                } else {
                    lease.onRelease = this::returned;
                    if (!future.complete(lease)) {
                        lease.release();
                    }
                }
            });
            boolean now;
            synchronized (this) {
                now = held < limit;
                if (now) {
                    held++;
                } else {
                    waiting.add(start);
                }
            }
            if (now) {
                start.run();
            }
            return future;
        }

        private void returned() {
            Runnable next;
            synchronized (this) {
                next = waiting.pollFirst();
                if (next == null) {
                    held--;
                }
            }
            if (next != null) {
                next.run();
            }
        }
    }

    /** Buffers lent to one user; {@link #release()} returns them exactly once. */
    public final class Lease {
        private final List<NbdBuffer> buffers;
        private final AtomicBoolean released = new AtomicBoolean();
        private volatile Runnable onRelease;

        private Lease(List<NbdBuffer> buffers) {
            this.buffers = buffers;
        }

        public NbdBuffer buffer() {
            return buffers.get(0);
        }

        public NbdBuffer buffer(int index) {
            return buffers.get(index);
        }

        public boolean isReleased() {
            return released.get();
        }

        /** Returns the buffers; later calls do nothing. */
        public void release() {
            if (released.compareAndSet(false, true)) {
                giveBack(buffers);
                Runnable after = onRelease;
                if (after != null) {
                    after.run();
                }
            }
        }
    }
}
