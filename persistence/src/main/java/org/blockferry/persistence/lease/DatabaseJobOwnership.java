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

    /** The highest sequence number of a job's events in the journal (-1: none). */
    @FunctionalInterface
    public interface JournalEnd {
        long of(String jobId) throws SQLException;
    }

    private final LeaseKeeper keeper;
    private final String owner;
    private final Executor executor;
    private final JournalEnd journalEnd;

    /**
     * @param owner      this process as an operator reads it, e.g. its cluster address, uid and pid
     * @param executor   where the blocking statements run (never an actor's dispatcher)
     * @param journalEnd read once a job is owned, so that its actor knows whether another
     *                   process wrote its events after this one recovered them
     */
    public DatabaseJobOwnership(LeaseKeeper keeper, String owner, Executor executor, JournalEnd journalEnd) {
        this.keeper = Objects.requireNonNull(keeper, "keeper");
        this.owner = DatabaseLeases.checkOwner(owner);
        this.executor = Objects.requireNonNull(executor, "executor");
        this.journalEnd = Objects.requireNonNull(journalEnd, "journalEnd");
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
                ? CompletableFuture.supplyAsync(() -> owned(new LeaseHold(held.get()), jobId), executor)
                : CompletableFuture.supplyAsync(() -> new Attempt(null, otherOwner(name)), executor));
    }

    /** The attempt of a job just owned, with its journal's end read after the lease was taken. */
    private Attempt owned(LeaseHold hold, String jobId) {
        try {
            return new Attempt(hold, null, journalEnd.of(jobId));
        } catch (SQLException | RuntimeException e) {
            hold.giveBack(); // not owned after all: the lease is not kept renewed for nobody
            throw new CompletionException(e);
        }
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
