package org.blockferry.nbd;

import jnr.ffi.Pointer;
import jnr.ffi.annotations.SaveError;
import jnr.ffi.types.int64_t;
import jnr.ffi.types.off_t;
import jnr.ffi.types.intptr_t;
import jnr.ffi.types.size_t;
import jnr.ffi.types.ssize_t;
import jnr.ffi.types.u_int32_t;
import jnr.ffi.types.u_int64_t;

/**
 * The raw C interfaces of libnbd and libc, with their exact C names and widths.
 *
 * <p>JNR-FFI generates the implementations in its own class loader, so the interfaces must be
 * public to the JVM; this package-private holder keeps them out of the package's contract.
 */
final class Raw {
    private Raw() {
    }

    /**
     * The raw libnbd API, with libnbd's exact C names and widths (libnbd 1.14, {@code libnbd.h}).
     *
     * <p>Calls that take a callback struct by value ({@code nbd_aio_*} with a completion callback,
     * {@code nbd_block_status}) cannot be declared here: JNR-FFI's interface mapping has no way to
     * pass a struct by value. They live in {@link ByValueCalls}, on jffi's invocation API.
     * Nothing outside this package sees this interface.
     */
    public interface LibNbd {
        int LIBNBD_TLS_DISABLE = 0;
        int LIBNBD_TLS_ALLOW = 1;
        int LIBNBD_TLS_REQUIRE = 2;

        int LIBNBD_SIZE_MINIMUM = 0;
        int LIBNBD_SIZE_PREFERRED = 1;
        int LIBNBD_SIZE_MAXIMUM = 2;

        int LIBNBD_AIO_DIRECTION_READ = 1;
        int LIBNBD_AIO_DIRECTION_WRITE = 2;

        Pointer nbd_create();

        void nbd_close(Pointer h);

        String nbd_get_error();

        int nbd_get_errno();

        int nbd_set_handle_name(Pointer h, String handle_name);

        int nbd_set_tls(Pointer h, int tls);

        int nbd_set_tls_username(Pointer h, String username);

        int nbd_set_tls_psk_file(Pointer h, String filename);

        int nbd_set_uri_allow_local_file(Pointer h, boolean allow);

        int nbd_set_pread_initialize(Pointer h, boolean request);

        int nbd_add_meta_context(Pointer h, String name);

        int nbd_connect_uri(Pointer h, String uri);

        int nbd_aio_connect_uri(Pointer h, String uri);

        int nbd_poll(Pointer h, int timeout);

        int nbd_aio_is_ready(Pointer h);

        int nbd_aio_is_closed(Pointer h);

        @int64_t long nbd_get_size(Pointer h);

        @int64_t long nbd_get_block_size(Pointer h, int size_type);

        int nbd_is_read_only(Pointer h);

        int nbd_can_flush(Pointer h);

        int nbd_can_trim(Pointer h);

        int nbd_can_zero(Pointer h);

        int nbd_can_fast_zero(Pointer h);

        int nbd_can_multi_conn(Pointer h);

        int nbd_can_meta_context(Pointer h, String metacontext);

        int nbd_pread(Pointer h, @intptr_t long buf, @size_t long count, @u_int64_t long offset,
                      @u_int32_t int flags);

        int nbd_pwrite(Pointer h, @intptr_t long buf, @size_t long count, @u_int64_t long offset,
                       @u_int32_t int flags);

        int nbd_zero(Pointer h, @u_int64_t long count, @u_int64_t long offset, @u_int32_t int flags);

        int nbd_trim(Pointer h, @u_int64_t long count, @u_int64_t long offset, @u_int32_t int flags);

        int nbd_flush(Pointer h, @u_int32_t int flags);

        int nbd_shutdown(Pointer h, @u_int32_t int flags);

        int nbd_aio_disconnect(Pointer h, @u_int32_t int flags);

        int nbd_aio_get_fd(Pointer h);

        @u_int32_t int nbd_aio_get_direction(Pointer h);

        int nbd_aio_notify_read(Pointer h);

        int nbd_aio_notify_write(Pointer h);

        int nbd_aio_is_dead(Pointer h);

        int nbd_aio_command_completed(Pointer h, @u_int64_t long cookie);

        @int64_t long nbd_aio_peek_command_completed(Pointer h);

        int nbd_aio_in_flight(Pointer h);
    }

    /** The few libc calls the event loop needs to wait on libnbd's sockets, with their C names. */
    public interface LibC {
        short POLLIN = 0x001;
        short POLLOUT = 0x004;
        short POLLERR = 0x008;
        short POLLHUP = 0x010;
        short POLLNVAL = 0x020;

        int EFD_CLOEXEC = 0x80000;
        int EFD_NONBLOCK = 0x800;

        int EINTR = 4;
        int EAGAIN = 11;

        /** {@code struct pollfd *fds} is passed as an address: an array of {fd:int, events:short, revents:short}. */
        @SaveError
        int poll(@intptr_t long fds, @u_int64_t long nfds, int timeout);

        @SaveError
        int eventfd(@u_int32_t int initval, int flags);

        @SaveError
        @ssize_t long read(int fd, @intptr_t long buf, @size_t long count);

        @SaveError
        @ssize_t long write(int fd, @intptr_t long buf, @size_t long count);

        int close(int fd);

        /** Used once, before libnbd (and so GnuTLS) loads: see {@link TlsCiphers}. */
        int setenv(String name, String value, int overwrite);

        int PROT_READ_WRITE = 0x1 | 0x2;
        int MAP_PRIVATE_ANONYMOUS = 0x02 | 0x20;
        int MADV_HUGEPAGE = 14;

        /** Anonymous memory for {@link NbdBuffer}s ({@code null} when the kernel refuses). */
        @SaveError
        Pointer mmap(Pointer addr, @size_t long length, int prot, int flags, int fd, @off_t long offset);

        @SaveError
        int madvise(@intptr_t long addr, @size_t long length, int advice);

        int munmap(@intptr_t long addr, @size_t long length);
    }
}
