package org.blockferry.nbd;

import org.blockferry.nbd.Raw.LibC;
import org.blockferry.nbd.Raw.LibNbd;

/** Which of the server's block size constraints to ask for: libnbd's {@code LIBNBD_SIZE_*}. */
public enum BlockSize {
    MINIMUM(LibNbd.LIBNBD_SIZE_MINIMUM),
    PREFERRED(LibNbd.LIBNBD_SIZE_PREFERRED),
    MAXIMUM(LibNbd.LIBNBD_SIZE_MAXIMUM);

    final int value;

    BlockSize(int value) {
        this.value = value;
    }
}
