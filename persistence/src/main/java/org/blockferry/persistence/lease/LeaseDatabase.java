package org.blockferry.persistence.lease;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.sql.DataSource;
import org.apache.pekko.actor.AbstractExtensionId;
import org.apache.pekko.actor.ClassicActorSystemProvider;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.actor.Extension;
import org.apache.pekko.actor.ExtensionIdProvider;
import org.blockferry.persistence.PersistenceSettings.Backend;

/**
 * The database an actor system keeps its leases in: set by the node once its database is open,
 * read by what Pekko creates by class name ({@link CoordinationLease}) and may create earlier.
 */
public final class LeaseDatabase implements Extension {

    /** A database and its dialect. */
    public record Source(DataSource dataSource, Backend backend) {
        public Source {
            Objects.requireNonNull(dataSource, "dataSource");
            Objects.requireNonNull(backend, "backend");
        }
    }

    private static final Id ID = new Id();

    private final CompletableFuture<Source> source = new CompletableFuture<>();

    private LeaseDatabase() {
    }

    /** Sets {@code system}'s lease database; once: a different one later is refused. */
    public static void set(ClassicActorSystemProvider system, DataSource dataSource, Backend backend) {
        Source s = new Source(dataSource, backend);
        LeaseDatabase db = ID.get(system);
        if (!db.source.complete(s) && !db.source.join().equals(s)) {
            throw new IllegalStateException("the lease database of " + system.classicSystem().name()
                    + " is set already, to another data source");
        }
    }

    /** Completes when {@link #set} was called for {@code system}. */
    public static CompletionStage<Source> source(ClassicActorSystemProvider system) {
        return ID.get(system).source.minimalCompletionStage();
    }

    /** Waits up to {@code wait} for {@link #set}; fails saying who must call it. */
    public static Source get(ClassicActorSystemProvider system, Duration wait) {
        try {
            return ID.get(system).source.get(wait.toNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            throw notSet(system, wait);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the lease database", e);
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        }
    }

    static IllegalStateException notSet(ClassicActorSystemProvider system, Duration waited) {
        return new IllegalStateException("no lease database for actor system " + system.classicSystem().name()
                + " after " + waited + ": the node must call LeaseDatabase.set(system, dataSource, backend) once its"
                + " database is open, before the cluster needs a lease");
    }

    private static final class Id extends AbstractExtensionId<LeaseDatabase> implements ExtensionIdProvider {
        @Override
        public LeaseDatabase createExtension(ExtendedActorSystem system) {
            return new LeaseDatabase();
        }

        @Override
        public Id lookup() {
            return ID;
        }
    }
}
