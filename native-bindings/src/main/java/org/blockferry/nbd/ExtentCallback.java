package org.blockferry.nbd;

import com.kenai.jffi.CallingConvention;
import com.kenai.jffi.Closure;
import com.kenai.jffi.ClosureManager;
import com.kenai.jffi.MemoryIO;
import com.kenai.jffi.Type;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The native {@code nbd_extent_callback} of one connection: a jffi closure that collects the
 * extents of the requested meta context during a synchronous {@code nbd_block_status}.
 *
 * <p>The connection holds this object (and so the closure) strongly until it is closed; libnbd
 * only calls it inside {@code nbd_block_status}, on the calling thread, one call at a time.
 */
final class ExtentCallback implements Closure {
    private static final int EIO = 5;
    private static final Type[] PARAMS = {
        Type.POINTER, // void *user_data
        Type.POINTER, // const char *metacontext
        Type.UINT64,  // uint64_t offset
        Type.POINTER, // uint32_t *entries
        Type.ULONG,   // size_t nr_entries
        Type.POINTER, // int *error
    };

    private final Closure.Handle handle;
    private String wantedContext;
    private List<NbdExtent> sink;
    private RuntimeException failure;

    ExtentCallback() {
        handle = ClosureManager.getInstance().newClosure(this, Type.SINT32, PARAMS, CallingConvention.DEFAULT);
    }

    long address() {
        return handle.getAddress();
    }

    void begin(String context, List<NbdExtent> extents) {
        wantedContext = context;
        sink = extents;
        failure = null;
    }

    /** Ends a call; rethrows anything the callback could not hand back through C. */
    void end() {
        sink = null;
        if (failure != null) {
            RuntimeException f = failure;
            failure = null;
            throw f;
        }
    }

    @Override
    public void invoke(Closure.Buffer buffer) {
        try {
            MemoryIO memory = MemoryIO.getInstance();
            String context = new String(memory.getZeroTerminatedByteArray(buffer.getAddress(1)), StandardCharsets.UTF_8);
            if (sink != null && context.equals(wantedContext)) {
                long offset = buffer.getLong(2);
                long entries = buffer.getAddress(3);
                int pairs = (int) buffer.getLong(4);
                int[] raw = new int[pairs];
                memory.getIntArray(entries, raw, 0, pairs);
                List<NbdExtent> out = sink;
                for (int i = 0; i + 1 < pairs; i += 2) {
                    long length = Integer.toUnsignedLong(raw[i]);
                    out.add(new NbdExtent(offset, length, raw[i + 1]));
                    offset += length;
                }
            }
            buffer.setIntReturn(0);
        } catch (RuntimeException e) {
            // Never let an exception unwind through libnbd's C frames: report it as EIO.
            failure = e;
            MemoryIO.getInstance().putInt(buffer.getAddress(5), EIO);
            buffer.setIntReturn(-1);
        }
    }

    void dispose() {
        handle.dispose();
    }

    static List<NbdExtent> newSink() {
        return new ArrayList<>();
    }
}
