package org.blockferry.engine.target;

import org.blockferry.nbd.NbdOptions;

/**
 * Where a disk goes: an NBD export that BlockFerry writes. The embedded default is a local file
 * it exports itself; CloudStack volumes sit behind the same interface.
 */
public interface DiskTarget extends AutoCloseable {

    /** What an operator reads in messages: a URI or a path, never a secret. */
    String describe();

    /** The NBD URI to connect to. */
    String uri();

    /** Connection settings (TLS, and {@code base:allocation} to find what is already zero). */
    NbdOptions options();

    /** Whether BlockFerry created the target for this run (then it is known to be all zeros). */
    boolean createdFresh();

    @Override
    void close();
}
