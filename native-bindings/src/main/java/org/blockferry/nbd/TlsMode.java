package org.blockferry.nbd;

import org.blockferry.nbd.Raw.LibC;
import org.blockferry.nbd.Raw.LibNbd;

/** Whether a connection uses TLS: libnbd's {@code LIBNBD_TLS_*}. */
public enum TlsMode {
    DISABLE(LibNbd.LIBNBD_TLS_DISABLE),
    ALLOW(LibNbd.LIBNBD_TLS_ALLOW),
    REQUIRE(LibNbd.LIBNBD_TLS_REQUIRE);

    final int value;

    TlsMode(int value) {
        this.value = value;
    }
}
