package org.blockferry.engine.copy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CompletableFuture;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.nbd.testing.ProcessMappings;
import org.junit.jupiter.api.Test;

/** The memory budget: bounded, first come first served, every buffer back exactly once. */
class BufferPoolTest {
    @Test
    void budgetBoundsBuffersAndWaitersAreServedInOrder() {
        BufferPool pool = BufferPool.create(2 * 4096, 4096);
        BufferPool.Lease a = pool.acquire(1).join();
        BufferPool.Lease b = pool.acquire(1).join();
        CompletableFuture<BufferPool.Lease> c = pool.acquire(1);
        CompletableFuture<BufferPool.Lease> d = pool.acquire(1);
        assertFalse(c.isDone());
        a.release();
        a.release(); // a second release is ignored
        assertTrue(c.isDone());
        assertFalse(d.isDone());
        b.release();
        assertTrue(d.isDone());
        assertEquals(2, pool.created());
    }

    @Test
    void pairsAreAcquiredAllOrNothing() {
        BufferPool pool = BufferPool.create(3 * 4096, 4096);
        BufferPool.Lease one = pool.acquire(1).join();
        BufferPool.Lease pair = pool.acquire(2).join();
        CompletableFuture<BufferPool.Lease> second = pool.acquire(2);
        one.release();
        assertFalse(second.isDone(), "one free buffer is not a pair");
        pair.release();
        assertTrue(second.isDone());
    }

    @Test
    void windowLimitsOneUserWithinTheBudget() {
        BufferPool pool = BufferPool.create(8 * 4096, 4096);
        BufferPool.Window w = pool.window(2);
        BufferPool.Lease a = w.acquire().join();
        w.acquire().join();
        CompletableFuture<BufferPool.Lease> third = w.acquire();
        assertFalse(third.isDone());
        assertTrue(pool.acquire(1).isDone(), "others still get buffers from the pool");
        a.release();
        assertTrue(third.isDone());
    }

    @Test
    void buffersAreBackedByHugePagesOnlyWhenAsked() throws Exception {
        int size = 4 << 20;
        for (boolean huge : new boolean[] {true, false}) {
            BufferPool.Lease lease = BufferPool.create(size, size, huge).acquire(1).join();
            long address = com.kenai.jffi.MemoryIO.getInstance().getDirectBufferAddress(lease.buffer().slice(0, 8));
            ProcessMappings.Mapping m = ProcessMappings.at(address);
            assertEquals(huge, m.flags().contains("hg"), "huge-pages=" + huge + ": " + m);
            lease.release();
        }
    }

    @Test
    void hugePagesMustBeABoolean() {
        com.typesafe.config.Config config = com.typesafe.config.ConfigFactory.parseString(
                "blockferry.copy.huge-pages = sometimes").withFallback(com.typesafe.config.ConfigFactory.load());
        org.apache.pekko.actor.typed.ActorSystem<Void> system = org.apache.pekko.actor.typed.ActorSystem.create(
                org.apache.pekko.actor.typed.javadsl.Behaviors.empty(), "huge-pages-config", config);
        try {
            InvalidInputException e = assertThrows(InvalidInputException.class, () -> CopyEnvironment.create(system));
            assertEquals("blockferry.copy.huge-pages", e.field());
            assertTrue(e.getMessage().contains("true or false"), e.getMessage());
        } finally {
            system.terminate();
        }
    }

    @Test
    void budgetSmallerThanOneBufferIsNamed() {
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> BufferPool.create(100, 4096));
        assertEquals("blockferry.copy.memory-budget", e.field());
    }
}
