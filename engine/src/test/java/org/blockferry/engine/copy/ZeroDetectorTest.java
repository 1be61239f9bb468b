package org.blockferry.engine.copy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.List;
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
        List<ZeroDetector.Op> ops = new ZeroDetector(SEG).classify(b, 0, 0, 1 << 20);
        assertEquals(List.of(
                new ZeroDetector.Op(0, 2 * SEG, 0, false),
                new ZeroDetector.Op(2 * SEG, 4 * SEG, -1, false),
                new ZeroDetector.Op(6 * SEG, SEG, 6 * SEG, false),
                new ZeroDetector.Op(7 * SEG, 9 * SEG, -1, false)), ops);
        lease.release();
    }

    @Test
    void aPieceIsClassifiedOnSegmentsAlignedToTheDisk() {
        ByteBuffer b = ByteBuffer.allocateDirect(3 * SEG);
        b.put(SEG + 10, (byte) 1);
        // The piece starts half a segment into the disk: its first segment is half long.
        List<ZeroDetector.Op> ops = new ZeroDetector(SEG).classify(b, 0, SEG / 2, 3 * SEG);
        assertEquals(List.of(
                new ZeroDetector.Op(SEG / 2, SEG / 2, -1, false),
                new ZeroDetector.Op(SEG, SEG, SEG / 2, false),
                new ZeroDetector.Op(2 * SEG, SEG + SEG / 2, -1, false)), ops);
    }

    @Test
    void holesBecomeZeroRangesMarkedAsNeverRead() {
        ZeroDetector.Op op = ZeroDetector.hole(new Extent(SEG, 2 * SEG, ExtentKind.HOLE));
        assertEquals(new ZeroDetector.Op(SEG, 2 * SEG, -1, true), op);
        assertFalse(op.isData());
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
