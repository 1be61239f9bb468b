package org.blockferry.persistence.lease;

import com.typesafe.config.Config;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.coordination.lease.LeaseException;
import org.apache.pekko.coordination.lease.LeaseSettings;
import org.apache.pekko.coordination.lease.TimeoutSettings;
import org.apache.pekko.coordination.lease.javadsl.Lease;

/**
 * A Pekko Coordination lease kept in the database ({@code blockferry_lease}), for the split-brain
 * resolver's lease-majority strategy: its {@code lease-implementation} points at
 * {@code blockferry.cluster.sbr-lease}, whose {@code lease-class} is this. The database comes from
 * {@link LeaseDatabase}, which the node sets once its database is open.
 */
public final class CoordinationLease extends Lease {

    /** Where reference.conf configures it. */
    public static final String CONFIG_PATH = "blockferry.cluster.sbr-lease";
    private static final String BLOCKING_DISPATCHER = "pekko.actor.default-blocking-io-dispatcher";

    private final LeaseSettings settings;
    private final ExtendedActorSystem system;
    private final Executor blocking;
    private final Duration operationTimeout;
    private final CompletableFuture<LeaseKeeper> keeper;
    private final AtomicReference<LeaseKeeper.Held> current = new AtomicReference<>();

    /** Called by Pekko's LeaseProvider; fails on a name or owner the table cannot hold. */
    public CoordinationLease(LeaseSettings settings, ExtendedActorSystem system) {
        this.settings = settings;
        this.system = system;
        DatabaseLeases.checkName(settings.leaseName());
        DatabaseLeases.checkOwner(settings.ownerName());
        LeaseTiming timing = timing(settings, system.settings().config());
        this.operationTimeout = timing.operationTimeout();
        this.blocking = system.dispatchers().lookup(BLOCKING_DISPATCHER);
        this.keeper = LeaseDatabase.source(system).toCompletableFuture().thenApply(db -> new LeaseKeeper(
                new DatabaseLeases(db.dataSource(), db.backend(), timing), "blockferry-lease-" + settings.leaseName()));
        system.registerOnTermination(() -> keeper.thenAccept(LeaseKeeper::close));
    }

    /** Pekko's timeouts for this lease, and the takeover margin of its configuration or of the job leases. */
    static LeaseTiming timing(LeaseSettings settings, Config systemConfig) {
        TimeoutSettings t = settings.timeoutSettings();
        Config own = settings.leaseConfig();
        Duration margin = own.hasPath("takeover-margin") ? own.getDuration("takeover-margin")
                : LeaseTiming.fromConfig(systemConfig).takeoverMargin();
        LeaseTiming.check(CONFIG_PATH, "lease-operation-timeout", t.getHeartbeatTimeout(), t.getHeartbeatInterval(),
                t.getOperationTimeout(), margin);
        return new LeaseTiming(t.getHeartbeatTimeout(), t.getHeartbeatInterval(), t.getOperationTimeout(), margin);
    }

    @Override
    public LeaseSettings getSettings() {
        return settings;
    }

    @Override
    public CompletionStage<Boolean> acquire() {
        return acquire(cause -> { });
    }

    /**
     * Acquires or renews the lease; {@code leaseLostCallback} is called once if it is then lost
     * (expired, taken over), never after {@link #release()}, and only after the result completed.
     * A database error or timeout fails the result with a {@link LeaseException}.
     */
    @Override
    public CompletionStage<Boolean> acquire(Consumer<Optional<Throwable>> leaseLostCallback) {
        CompletableFuture<Optional<LeaseKeeper.Held>> acquired = keeper()
                .thenCompose(k -> k.acquire(settings.leaseName(), settings.ownerName(), blocking));
        CompletableFuture<Boolean> result = new CompletableFuture<>();
        acquired.whenComplete((held, failure) -> {
            if (failure != null) {
                result.completeExceptionally(leaseException("cannot acquire", failure));
            } else {
                held.ifPresent(current::set);
                result.complete(held.isPresent());
            }
        });
        acquired.thenAcceptBoth(result, (held, ok) -> held.ifPresent(h -> h.whenLost().thenAccept(reason -> {
            if (current.compareAndSet(h, null)) {
                leaseLostCallback.accept(Optional.of(new LeaseException("lease " + settings.leaseName()
                        + " lost by " + settings.ownerName() + ": " + reason)));
            }
        })));
        return result;
    }

    /** Deletes the lease if this owner holds it; true if it held it (validly) until now. Fails as a LeaseException. */
    @Override
    public CompletionStage<Boolean> release() {
        LeaseKeeper.Held h = current.getAndSet(null);
        if (h == null) {
            return CompletableFuture.completedFuture(false);
        }
        boolean wasValid = h.valid();
        CompletableFuture<Boolean> result = new CompletableFuture<>();
        h.release().whenComplete((v, failure) -> {
            if (failure != null) {
                result.completeExceptionally(leaseException("cannot release", failure));
            } else {
                result.complete(wasValid);
            }
        });
        return result;
    }

    /** True only while this owner certainly holds the lease (on the monotonic clock). */
    @Override
    public boolean checkLease() {
        LeaseKeeper.Held h = current.get();
        return h != null && h.valid();
    }

    private CompletableFuture<LeaseKeeper> keeper() {
        return keeper.copy().orTimeout(operationTimeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    private LeaseException leaseException(String what, Throwable failure) {
        Throwable cause = failure instanceof CompletionException && failure.getCause() != null
                ? failure.getCause() : failure;
        String message = cause instanceof TimeoutException
                ? LeaseDatabase.notSet(system, operationTimeout).getMessage()
                : cause.getMessage();
        LeaseException e = new LeaseException(what + " lease " + settings.leaseName() + " for "
                + settings.ownerName() + ": " + message);
        e.initCause(cause);
        return e;
    }
}
