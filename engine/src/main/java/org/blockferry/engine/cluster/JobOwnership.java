package org.blockferry.engine.cluster;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.blockferry.engine.copy.WriteFence;

/**
 * Who runs a job: one process at a time, across every process on the database — members of one
 * cluster or not. A job's actor owns its job (a lease with an expiry kept in the database,
 * renewed while it is held) before it claims anything or runs a disk, and its disks write only
 * through the ownership's {@link WriteFence}.
 */
public interface JobOwnership {

    /**
     * Tries once, without waiting, to own {@code jobId}: completes with a {@link Hold} when this
     * process owns it now (new, renewed, or taken over from an owner whose lease expired plus the
     * takeover margin), or with the current other owner. Never completes exceptionally for a busy
     * lease; a database error completes it exceptionally.
     */
    CompletionStage<Attempt> tryAcquire(String jobId);

    /**
     * Either {@code hold} (owned) or {@code otherOwner} (who owns it, as an operator reads it).
     * {@code journalEnd}: with a hold, the highest sequence number of the job's events in the
     * journal once it was owned ({@link #UNKNOWN} when the ownership cannot tell). An owner whose
     * state is older (another process wrote events after this one recovered the job) must
     * recover again before it writes.
     */
    record Attempt(Hold hold, String otherOwner, long journalEnd) {
        public static final long UNKNOWN = -1;

        public Attempt(Hold hold, String otherOwner) {
            this(hold, otherOwner, UNKNOWN);
        }

        public boolean owned() {
            return hold != null;
        }
    }

    /** This process's ownership of one job: renewed in the background until given back or lost. */
    interface Hold extends WriteFence {
        /** False once the lease expired on the monotonic clock or was found taken over. */
        boolean valid();

        /** Gives the job back (deletes the lease row if still ours); completes when done. */
        CompletionStage<Void> giveBack();

        @Override
        default void check() {
            if (!valid()) {
                throw new WriteFence.Closed("this node's ownership of the job has ended");
            }
        }
    }

    /** One process, no database leases: always owned (unit tests of the actors). */
    JobOwnership LOCAL = jobId -> CompletableFuture.completedFuture(new Attempt(new Hold() {
        @Override
        public boolean valid() {
            return true;
        }

        @Override
        public CompletionStage<Void> giveBack() {
            return CompletableFuture.completedFuture(null);
        }
    }, null));
}
