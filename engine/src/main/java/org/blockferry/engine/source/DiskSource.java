package org.blockferry.engine.source;

import java.io.IOException;
import java.util.List;
import org.blockferry.engine.endpoint.EndpointException;
import org.blockferry.engine.plan.CopyMode;
import org.blockferry.engine.plan.DiskPlan;
import org.blockferry.nbd.NbdConnection;
import org.blockferry.nbd.NbdException;
import org.blockferry.nbd.NbdOptions;

/**
 * Where a disk comes from, for one sync: how to reach it over NBD, which extents the run must
 * move (everything, or what changed since the last sync's change token), and the change token
 * this sync leaves for the next one.
 *
 * <p>Whoever opened the source decided full or incremental (see {@link ModeDecision}); the
 * caller opens connections to {@link #uri()} with {@link #options()} (which include the meta
 * contexts {@link #plan} needs), asks for the plan on one of them, copies, asks for the
 * {@link #changeToken} once every planned byte is on the target, records it, calls
 * {@link #completed()}, and finally closes the source (which stops anything the source started,
 * such as a local export or a snapshot). The copy pipeline knows no source kind: only this.
 */
public interface DiskSource extends AutoCloseable {

    /** What an operator reads in messages and progress: a URI or a path, never a secret. */
    String describe();

    /** The NBD URI to connect to. */
    String uri();

    /** Connection settings, with the meta contexts the plan needs. */
    NbdOptions options();

    /**
     * The extents this run moves, read on {@code connection}: for a full sync every extent of the
     * disk (DATA where allocated, ZERO or HOLE where it reads as zeros), for an incremental one
     * the areas changed since the previous change token.
     */
    DiskPlan plan(NbdConnection connection) throws IOException;

    /** Full or incremental: decided when the source was opened. */
    default CopyMode mode() {
        return CopyMode.FULL;
    }

    /** Why this mode, in words an operator reads in the job's state. */
    default String modeReason() {
        return "full copy";
    }

    /**
     * The token this sync leaves, to be stored once every planned byte is on the target; empty
     * when the source keeps no change tracking.
     *
     * @param capacity the disk's size as copied
     * @param targetFingerprint which target the copy went to ({@code TargetFingerprint})
     */
    default java.util.Optional<ChangeToken> changeToken(long capacity, String targetFingerprint) {
        return java.util.Optional.empty();
    }

    /** After the token is recorded: drops what the next sync no longer needs (an older bitmap). */
    default void completed() {
    }

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
