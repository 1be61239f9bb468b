package org.blockferry.engine.copy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.List;
import org.blockferry.engine.plan.Chunk;
import org.blockferry.engine.plan.Extent;
import org.blockferry.engine.plan.ExtentKind;
import org.junit.jupiter.api.Test;

/** Zero detection inside a chunk, on a real pooled buffer. */
class ZeroDetectorTest {
    private static final int SEG = 64 * 1024;

    @Test
    void zeroSegmentsBecomeZeroRangesAndNeighboursMerge() {
        BufferPool pool = BufferPool.create(1 << 20, 1 << 20);
        BufferPool.Lease lease = pool.acquire(1).join();
        ByteBuffer b = lease.buffer().slice(0, 1 << 20);
        // segments: 0-1 data, 2-5 zero, 6 data (one byte at its end), 7-15 zero
        for (int i = 0; i < 2 * SEG; i++) {
            b.put(i, (byte) 7);
        }
        for (int i = 2 * SEG; i < 1 << 20; i++) {
            b.put(i, (byte) 0);
        }
        b.put(7 * SEG - 1, (byte) 1);
        Chunk chunk = new Chunk(0, 0, 1 << 20, List.of(new Extent(0, 1 << 20, ExtentKind.DATA)), 1 << 20);
        List<ZeroDetector.Op> ops = new ZeroDetector(SEG).plan(new ChunkReader.Filled(chunk, lease)).ops();
        assertEquals(List.of(
                new ZeroDetector.Op(0, 2 * SEG, 0, false),
                new ZeroDetector.Op(2 * SEG, 4 * SEG, -1, false),
                new ZeroDetector.Op(6 * SEG, SEG, 6 * SEG, false),
                new ZeroDetector.Op(7 * SEG, 9 * SEG, -1, false)), ops);
        lease.release();
    }

    @Test
    void holesBecomeZeroRangesMarkedAsNeverRead() {
        BufferPool pool = BufferPool.create(1 << 20, 1 << 20);
        BufferPool.Lease lease = pool.acquire(1).join();
        lease.buffer().slice(0, 4096).put(0, (byte) 1);
        Chunk chunk = new Chunk(0, 0, 3 * SEG, List.of(new Extent(0, SEG, ExtentKind.HOLE),
                new Extent(SEG, 4096, ExtentKind.DATA), new Extent(SEG + 4096, 2 * SEG - 4096, ExtentKind.ZERO)), 4096);
        List<ZeroDetector.Op> ops = new ZeroDetector(SEG).plan(new ChunkReader.Filled(chunk, lease)).ops();
        assertEquals(new ZeroDetector.Op(0, SEG, -1, true), ops.get(0));
        assertEquals(new ZeroDetector.Op(SEG, 4096, 0, false), ops.get(1));
        assertTrue(ops.get(2).fromHole());
        lease.release();
    }

    @Test
    void firstNonZeroFindsTheExactByte() {
        ByteBuffer b = ByteBuffer.allocateDirect(3 << 20);
        assertEquals(-1, ZeroDetector.firstNonZero(b, 0, 3 << 20));
        b.put((2 << 20) + 5, (byte) 9);
        assertEquals((2 << 20) + 5, ZeroDetector.firstNonZero(b, 0, 3 << 20));
        assertFalse(ZeroDetector.isZero(b, 1 << 20, 2 << 20));
        assertTrue(ZeroDetector.isZero(b, 0, 2 << 20));
    }
}
