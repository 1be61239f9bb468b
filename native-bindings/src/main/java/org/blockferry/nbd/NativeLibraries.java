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
    private static volatile TlsCiphers ciphers = TlsCiphers.AUTO;
    private static volatile String ciphersInEffect = "not loaded yet";
    private static volatile boolean chachaDropped;

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

    /**
     * Sets the TLS cipher preference the library will load with; false when it is already loaded
     * (GnuTLS reads its policy once, at load).
     */
    static synchronized boolean preferCiphers(TlsCiphers preference) {
        if (instance != null || loadFailure != null) {
            return preference == ciphers;
        }
        ciphers = preference;
        return true;
    }

    static String ciphersInEffect() {
        return ciphersInEffect;
    }

    static boolean chachaDropped() {
        return chachaDropped;
    }

    private static NativeLibraries load() {
        LibC libc = LibraryLoader.create(LibC.class).failImmediately().load("c");
        ciphersInEffect = applyCipherPreference(libc, ciphers);
        // dlopen by soname first: it needs only the runtime package, not libnbd-dev's libnbd.so link.
        Library jffiLibrary = Library.getCachedInstance(LIBNBD_SONAME, Library.LAZY | Library.GLOBAL);
        if (jffiLibrary == null) {
            throw new UnsatisfiedLinkError(Library.getLastError());
        }
        LibNbd nbd = LibraryLoader.create(LibNbd.class).failImmediately().load(LIBNBD_SONAME);
        return new NativeLibraries(nbd, libc, new ByValueCalls(jffiLibrary));
    }

    /** Points GnuTLS at a policy file that drops ChaCha20 when the preference asks for it. */
    private static String applyCipherPreference(LibC libc, TlsCiphers preference) {
        String envFile = System.getenv(TlsCiphers.ENV);
        String text = preference.overrideFileText(envFile, TlsCiphers.cpuHasAes());
        if (text == null) {
            return preference.configName() + ": GnuTLS's own cipher order";
        }
        try {
            java.nio.file.Path file = java.nio.file.Files.createTempFile("blockferry-gnutls-", ".conf");
            file.toFile().deleteOnExit();
            java.nio.file.Files.writeString(file, text);
            if (libc.setenv(TlsCiphers.ENV, file.toString(), 1) != 0) {
                return preference.configName() + ": setenv failed, GnuTLS's own cipher order";
            }
            chachaDropped = true;
            return preference.configName() + ": CHACHA20-POLY1305 not offered (AES-GCM preferred)";
        } catch (java.io.IOException | RuntimeException e) {
            return preference.configName() + ": policy file not written (" + e.getMessage() + "), GnuTLS's own order";
        }
    }
}
