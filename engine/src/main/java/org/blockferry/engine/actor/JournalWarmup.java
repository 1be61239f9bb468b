package org.blockferry.engine.actor;

import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.RecoveryCompleted;
import org.apache.pekko.persistence.typed.javadsl.CommandHandler;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehavior;
import org.apache.pekko.persistence.typed.javadsl.SignalHandler;

/**
 * Recovers one persistence id that is never written, once, while the node starts: the journal
 * and snapshot plugins start on their first use (their connection pool, their data access
 * objects, the statements Slick compiles), and without this the first job's entity paid for all
 * of it after the node was up — about 0.1 s of a one-shot {@code replicate} on two cores. The
 * node starts it beside its cluster's formation, which waits for ticks and a join anyway. It
 * reads nothing but empty results and writes nothing; it stops once recovered (or failed: the
 * jobs' own recoveries then report the journal's problem).
 */
public final class JournalWarmup extends EventSourcedBehavior<JournalWarmup.Stop, Object, Object> {

    /** The persistence id it recovers; no event is ever persisted under it. */
    public static final String PERSISTENCE_ID = "blockferry-journal-warmup";

    /** Sent to itself once recovered. */
    public enum Stop {
        INSTANCE
    }

    private final ActorRef<Stop> self;

    private JournalWarmup(ActorRef<Stop> self) {
        super(PersistenceId.ofUniqueId(PERSISTENCE_ID));
        this.self = self;
    }

    /** Starts the warm-up as a system actor of {@code system}; returns at once. */
    public static void start(ActorSystem<?> system) {
        system.systemActorOf(Behaviors.<Stop>setup(ctx -> new JournalWarmup(ctx.getSelf())), "journal-warmup",
                Props.empty());
    }

    @Override
    public Object emptyState() {
        return Boolean.TRUE;
    }

    @Override
    public CommandHandler<Stop, Object, Object> commandHandler() {
        return newCommandHandlerBuilder().forAnyState().onAnyCommand(c -> Effect().stop());
    }

    @Override
    public EventHandler<Object, Object> eventHandler() {
        return (state, event) -> state;
    }

    @Override
    public SignalHandler<Object> signalHandler() {
        return newSignalHandlerBuilder().onSignal(RecoveryCompleted.instance(), s -> self.tell(Stop.INSTANCE))
                .build();
    }
}
