package org.blockferry.nbd;

import org.blockferry.nbd.Raw.LibC;
import org.blockferry.nbd.Raw.LibNbd;

import com.kenai.jffi.Library;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Runtime;

/**
 * Loads libnbd and libc once per JVM: the JNR-FFI interfaces and the jffi functions that take
 * callback structs by value. A missing libnbd is reported once, with the package to install.
 */
final class NativeLibraries {
    static final String LIBNBD_SONAME = "libnbd.so.0";
    static final String INSTALL_HINT = "install it with: apt-get install libnbd0";

    private static volatile NativeLibraries instance;
    private static volatile Throwable loadFailure;

    final LibNbd nbd;
    final LibC libc;
    final Runtime runtime;
    final ByValueCalls byValue;

    private NativeLibraries(LibNbd nbd, LibC libc, ByValueCalls byValue) {
        this.nbd = nbd;
        this.libc = libc;
        this.runtime = Runtime.getRuntime(nbd);
        this.byValue = byValue;
    }

    /** The loaded libraries, or an {@link NbdException} saying how to install libnbd. */
    static NativeLibraries get() throws NbdException {
        NativeLibraries loaded = instance;
        if (loaded != null) {
            return loaded;
        }
        synchronized (NativeLibraries.class) {
            if (instance == null && loadFailure == null) {
                try {
                    instance = load();
                } catch (Throwable e) {
                    loadFailure = e;
                }
            }
            if (instance == null) {
                throw new NbdException("load", "libnbd (" + LIBNBD_SONAME + ") cannot be loaded: "
                        + loadFailure.getMessage() + "; " + INSTALL_HINT, 0);
            }
            return instance;
        }
    }

    private static NativeLibraries load() {
        // dlopen by soname first: it needs only the runtime package, not libnbd-dev's libnbd.so link.
        Library jffiLibrary = Library.getCachedInstance(LIBNBD_SONAME, Library.LAZY | Library.GLOBAL);
        if (jffiLibrary == null) {
            throw new UnsatisfiedLinkError(Library.getLastError());
        }
        LibNbd nbd = LibraryLoader.create(LibNbd.class).failImmediately().load(LIBNBD_SONAME);
        LibC libc = LibraryLoader.create(LibC.class).failImmediately().load("c");
        return new NativeLibraries(nbd, libc, new ByValueCalls(jffiLibrary));
    }
}
