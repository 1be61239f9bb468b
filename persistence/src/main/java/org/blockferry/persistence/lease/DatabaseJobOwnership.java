package org.blockferry.persistence.lease;

import java.sql.SQLException;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import org.blockferry.engine.cluster.JobOwnership;
import org.blockferry.engine.copy.WriteFence;

/**
 * Job ownership as database leases named {@code job:<jobId>}, held by this process under one
 * owner string and renewed by a {@link LeaseKeeper}: one process runs a job at a time, across
 * every process on the database.
 */
public final class DatabaseJobOwnership implements JobOwnership {

    private final LeaseKeeper keeper;
    private final String owner;
    private final Executor executor;

    /**
     * @param owner    this process as an operator reads it, e.g. its cluster address, uid and pid
     * @param executor where the blocking statements run (never an actor's dispatcher)
     */
    public DatabaseJobOwnership(LeaseKeeper keeper, String owner, Executor executor) {
        this.keeper = Objects.requireNonNull(keeper, "keeper");
        this.owner = DatabaseLeases.checkOwner(owner);
        this.executor = Objects.requireNonNull(executor, "executor");
    }

    /** The lease that stands for {@code jobId}. */
    public static String leaseName(String jobId) {
        return "job:" + jobId;
    }

    public String owner() {
        return owner;
    }

    @Override
    public CompletionStage<Attempt> tryAcquire(String jobId) {
        String name;
        try {
            name = DatabaseLeases.checkName(leaseName(jobId));
        } catch (IllegalArgumentException e) {
            return CompletableFuture.failedFuture(e);
        }
        return keeper.acquire(name, owner, executor).thenCompose(held -> held.isPresent()
                ? CompletableFuture.completedFuture(new Attempt(new LeaseHold(held.get()), null))
                : CompletableFuture.supplyAsync(() -> new Attempt(null, otherOwner(name)), executor));
    }

    private String otherOwner(String name) {
        try {
            return keeper.leases().owner(name).orElse("nobody: released just now, try again");
        } catch (SQLException e) {
            throw new CompletionException(e);
        }
    }

    /** A held lease seen as a job's hold: its fence names why it closed. */
    private record LeaseHold(LeaseKeeper.Held held) implements Hold {
        @Override
        public boolean valid() {
            return held.valid();
        }

        @Override
        public CompletionStage<Void> giveBack() {
            return held.release();
        }

        @Override
        public void check() {
            if (!held.valid()) {
                throw new WriteFence.Closed("this node's ownership of the job has ended ("
                        + held.lostReason().orElse("ended") + ")");
            }
        }
    }
}
