package org.blockferry.nbd;

import com.kenai.jffi.CallingConvention;
import com.kenai.jffi.Function;
import com.kenai.jffi.HeapInvocationBuffer;
import com.kenai.jffi.Invoker;
import com.kenai.jffi.Library;
import com.kenai.jffi.Struct;
import com.kenai.jffi.Type;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * libnbd calls whose callback argument is a small struct passed by value
 * ({@code nbd_completion_callback}, {@code nbd_extent_callback}: {callback, user_data, free}).
 *
 * <p>JNR-FFI interfaces cannot declare a by-value struct, so these go through jffi's invocation
 * API with a real {@link Struct} type: libffi lays the argument out as the platform ABI says
 * (in memory on x86-64, in registers elsewhere), with no assumption about the layout here.
 */
final class ByValueCalls {
    /** {@code struct { int (*callback)(...); void *user_data; void (*free)(void *); }}. */
    static final Struct CALLBACK_STRUCT = Struct.newStruct(Type.POINTER, Type.POINTER, Type.POINTER);
    private static final Type SIZE_T = Type.ULONG;

    private final Invoker invoker = Invoker.getInstance();
    private final byte[] noCallback = new byte[CALLBACK_STRUCT.size()];
    private final Function aioPread;
    private final Function aioPwrite;
    private final Function aioZero;
    private final Function aioTrim;
    private final Function aioFlush;
    private final Function blockStatus;

    ByValueCalls(Library lib) {
        aioPread = function(lib, "nbd_aio_pread", Type.SINT64,
                Type.POINTER, Type.POINTER, SIZE_T, Type.UINT64, CALLBACK_STRUCT, Type.UINT32);
        aioPwrite = function(lib, "nbd_aio_pwrite", Type.SINT64,
                Type.POINTER, Type.POINTER, SIZE_T, Type.UINT64, CALLBACK_STRUCT, Type.UINT32);
        aioZero = function(lib, "nbd_aio_zero", Type.SINT64,
                Type.POINTER, Type.UINT64, Type.UINT64, CALLBACK_STRUCT, Type.UINT32);
        aioTrim = function(lib, "nbd_aio_trim", Type.SINT64,
                Type.POINTER, Type.UINT64, Type.UINT64, CALLBACK_STRUCT, Type.UINT32);
        aioFlush = function(lib, "nbd_aio_flush", Type.SINT64,
                Type.POINTER, CALLBACK_STRUCT, Type.UINT32);
        blockStatus = function(lib, "nbd_block_status", Type.SINT32,
                Type.POINTER, Type.UINT64, Type.UINT64, CALLBACK_STRUCT, Type.UINT32);
    }

    private static Function function(Library lib, String name, Type result, Type... params) {
        long address = lib.getSymbolAddress(name);
        if (address == 0) {
            throw new UnsatisfiedLinkError("symbol " + name + " not found in " + NativeLibraries.LIBNBD_SONAME
                    + " (libnbd 1.14 or newer is needed)");
        }
        return new Function(address, result, params, CallingConvention.DEFAULT);
    }

    /** {@code nbd_aio_pread} with no completion callback: completion is found by cookie. */
    long aioPread(long h, long buf, long count, long offset, int flags) {
        return bufferCall(aioPread, h, buf, count, offset, flags);
    }

    long aioPwrite(long h, long buf, long count, long offset, int flags) {
        return bufferCall(aioPwrite, h, buf, count, offset, flags);
    }

    private long bufferCall(Function function, long h, long buf, long count, long offset, int flags) {
        HeapInvocationBuffer args = new HeapInvocationBuffer(function);
        args.putAddress(h);
        args.putAddress(buf);
        putSizeT(args, count);
        args.putLong(offset);
        args.putStruct(noCallback, 0);
        args.putInt(flags);
        return invoker.invokeLong(function, args);
    }

    long aioZero(long h, long count, long offset, int flags) {
        return rangeCall(aioZero, h, count, offset, flags);
    }

    long aioTrim(long h, long count, long offset, int flags) {
        return rangeCall(aioTrim, h, count, offset, flags);
    }

    private long rangeCall(Function function, long h, long count, long offset, int flags) {
        HeapInvocationBuffer args = new HeapInvocationBuffer(function);
        args.putAddress(h);
        args.putLong(count);
        args.putLong(offset);
        args.putStruct(noCallback, 0);
        args.putInt(flags);
        return invoker.invokeLong(function, args);
    }

    long aioFlush(long h, int flags) {
        HeapInvocationBuffer args = new HeapInvocationBuffer(aioFlush);
        args.putAddress(h);
        args.putStruct(noCallback, 0);
        args.putInt(flags);
        return invoker.invokeLong(aioFlush, args);
    }

    /** Synchronous {@code nbd_block_status}; {@code callback} is the address of a live closure. */
    int blockStatus(long h, long count, long offset, long callback, int flags) {
        HeapInvocationBuffer args = new HeapInvocationBuffer(blockStatus);
        args.putAddress(h);
        args.putLong(count);
        args.putLong(offset);
        args.putStruct(callbackStruct(callback), 0);
        args.putInt(flags);
        return invoker.invokeInt(blockStatus, args);
    }

    private static byte[] callbackStruct(long callback) {
        byte[] bytes = new byte[CALLBACK_STRUCT.size()];
        ByteBuffer view = ByteBuffer.wrap(bytes).order(ByteOrder.nativeOrder());
        putPointer(view, 0, callback);
        // user_data and free stay NULL: the closure knows its connection, and nothing is freed.
        return bytes;
    }

    private static void putPointer(ByteBuffer view, int index, long address) {
        if (Type.POINTER.size() == 8) {
            view.putLong(index, address);
        } else {
            view.putInt(index, (int) address);
        }
    }

    private static void putSizeT(HeapInvocationBuffer args, long value) {
        if (SIZE_T.size() == 8) {
            args.putLong(value);
        } else {
            args.putInt((int) value);
        }
    }
}
