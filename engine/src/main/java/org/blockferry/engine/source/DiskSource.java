package org.blockferry.engine.source;

import java.io.IOException;
import java.util.List;
import org.blockferry.engine.endpoint.EndpointException;
import org.blockferry.engine.plan.DiskPlan;
import org.blockferry.nbd.NbdConnection;
import org.blockferry.nbd.NbdException;
import org.blockferry.nbd.NbdOptions;

/**
 * Where a disk comes from: how to reach it over NBD, and which extents a run must move.
 *
 * <p>The caller opens connections to {@link #uri()} with {@link #options()} (which include the
 * meta contexts {@link #plan} needs), asks for the plan on one of them, copies, and finally
 * closes the source (which stops anything the source started, such as a local export).
 */
public interface DiskSource extends AutoCloseable {

    /** What an operator reads in messages and progress: a URI or a path, never a secret. */
    String describe();

    /** The NBD URI to connect to. */
    String uri();

    /** Connection settings, with the meta contexts the plan needs. */
    NbdOptions options();

    /**
     * The plan of a full copy: every extent of the disk, DATA where allocated, ZERO or HOLE
     * where the source says it reads as zeros.
     */
    DiskPlan planFull(NbdConnection connection) throws IOException;

    /** The disk's size, asked over one short connection; an unreachable server is named as the source. */
    default long size() throws IOException {
        try (NbdConnection c = NbdConnection.open(uri(), options().withHandleName("size"))) {
            return c.size();
        } catch (NbdException e) {
            throw new EndpointException("source", describe(), e);
        }
    }

    @Override
    void close();

    /** The meta contexts a plain NBD source negotiates. */
    List<String> BASE_CONTEXTS = List.of(NbdConnection.BASE_ALLOCATION);
}
