package org.blockferry.engine.copy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.blockferry.nbd.NbdEventLoop;
import org.blockferry.nbd.NbdException;

/**
 * The process's NBD event-loop threads, connections spread over them round robin; and the threads
 * that open a copy's connections, several at once.
 */
public final class IoLoops implements AutoCloseable {
    /** How long a stopping process waits for the replies to requests in flight. */
    static final Duration GRACE = Duration.ofSeconds(2);

    private final List<NbdEventLoop> loops;
    private final AtomicInteger next = new AtomicInteger();
    /** At most this many handshakes at once in the process; more wait in line. */
    static final int CONNECTOR_THREADS = 16;
    /**
     * Handshakes (a few round trips each) run here in parallel, waited for by a disk's setup. A
     * pool of its own: its tasks never wait for one another, so a setup waiting for them cannot
     * hold a thread they need (as on the bounded disk-setup pool, where the setups run). Idle
     * threads end after 30 s.
     */
    private final ThreadPoolExecutor connector = new ThreadPoolExecutor(CONNECTOR_THREADS, CONNECTOR_THREADS, 30,
            TimeUnit.SECONDS, new LinkedBlockingQueue<>(), new ThreadFactory() {
                private final AtomicInteger count = new AtomicInteger();

                @Override
                public Thread newThread(Runnable r) {
                    Thread t = new Thread(r, "nbd-connect-" + count.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                }
            });

    private IoLoops(List<NbdEventLoop> loops) {
        this.loops = loops;
        connector.allowCoreThreadTimeOut(true);
    }

    /** {@code threads} loops (0 = one per core); requests without reply after {@code requestTimeout} fail. */
    public static IoLoops start(int threads, Duration requestTimeout) throws NbdException {
        int n = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
        List<NbdEventLoop> loops = new ArrayList<>(n);
        try {
            for (int i = 0; i < n; i++) {
                loops.add(NbdEventLoop.start("nbd-io-" + i, requestTimeout));
            }
        } catch (NbdException | RuntimeException e) {
            loops.forEach(NbdEventLoop::close);
            throw e;
        }
        return new IoLoops(loops);
    }

    public int size() {
        return loops.size();
    }

    /** The loop for the {@code i}-th connection of a side: lanes of both sides line up on the same thread. */
    NbdEventLoop forLane(int lane, int offset) {
        return loops.get(Math.floorMod(lane + offset, loops.size()));
    }

    /** Where connections are opened in parallel (see {@link #connector}). */
    Executor connector() {
        return connector;
    }

    /** A starting offset so that concurrent copies do not all begin on loop 0. */
    int nextOffset() {
        return next.getAndIncrement();
    }

    /**
     * Stops every loop, after the replies to the requests still in flight (up to {@link #GRACE},
     * all loops at once): a node that stops mid-copy does not drop its connections with requests
     * pending, which some servers abort of.
     */
    @Override
    public void close() {
        loops.forEach(l -> l.stopAfterReplies(GRACE));
        loops.forEach(NbdEventLoop::close);
        connector.shutdown();
    }
}
