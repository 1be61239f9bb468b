package org.blockferry.engine.actor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.persistence.testkit.PersistenceTestKitSnapshotPlugin;
import org.apache.pekko.persistence.testkit.javadsl.EventSourcedBehaviorTestKit.CommandResult;
import org.apache.pekko.persistence.testkit.javadsl.EventSourcedBehaviorTestKit;
import org.apache.pekko.persistence.testkit.javadsl.SnapshotTestKit;
import org.blockferry.engine.actor.TargetActor.Acquire;
import org.blockferry.engine.actor.TargetActor.Command;
import org.blockferry.engine.actor.TargetActor.Event;
import org.blockferry.engine.actor.TargetActor.LeaseGranted;
import org.blockferry.engine.actor.TargetActor.LeaseQueued;
import org.blockferry.engine.actor.TargetActor.LeaseReleased;
import org.blockferry.engine.actor.TargetActor.Release;
import org.blockferry.engine.actor.TargetActor.TokenRecorded;
import org.blockferry.engine.actor.TargetState.Claim;
import org.blockferry.engine.actor.TargetState.Role;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The lease and lineage of one location, command by command, and its recovery. */
class TargetActorTest {
    private static final java.util.concurrent.atomic.AtomicInteger RUNS = new java.util.concurrent.atomic.AtomicInteger();
    /** Each test has its own location (the in-memory journal outlives a test). */
    private String location;
    private static final ActorTestKit kit = ActorTestKit.create(EventSourcedBehaviorTestKit.config()
            .withFallback(PersistenceTestKitSnapshotPlugin.getInstance().config())
            .withFallback(ConfigFactory.parseString("pekko.loglevel = WARNING"))
            .withFallback(ConfigFactory.load()));

    private TestProbe<String> notices;
    private EventSourcedBehaviorTestKit<Command, Event, TargetState> target;

    @BeforeEach
    void start() {
        location = "file:/data/web" + RUNS.incrementAndGet() + ".img";
        notices = kit.createTestProbe();
        target = EventSourcedBehaviorTestKit.create(kit.system(), TargetActor.create(location, notifier(), 5));
    }

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    private TargetActor.JobNotifier notifier() {
        TestProbe<String> probe = notices;
        return new TargetActor.JobNotifier() {
            @Override
            public void granted(String jobId, String location) {
                probe.ref().tell("granted " + jobId + " " + location);
            }

            @Override
            public void queued(String jobId, String location, String holder) {
                probe.ref().tell("queued " + jobId + " behind " + holder);
            }
        };
    }

    private CommandResult<Command, Event, TargetState> write(String job, String source) {
        return target.runCommand(new Acquire(job, Role.WRITE, source));
    }

    private CommandResult<Command, Event, TargetState> read(String job) {
        return target.runCommand(new Acquire(job, Role.READ, null));
    }

    @Test
    void theFirstWriterIsGrantedAndTheNextWaitsUntilItReleases() {
        assertEquals(new LeaseGranted(new Claim("a", Role.WRITE, "s1")), write("a", "s1").event());
        notices.expectMessage("granted a " + location);
        assertEquals(new LeaseQueued(new Claim("b", Role.WRITE, "s1")), write("b", "s1").event());
        notices.expectMessage("queued b behind a");

        CommandResult<Command, Event, TargetState> released = target.runCommand(new Release("a"));
        assertEquals(List.of(new LeaseReleased("a"), new LeaseGranted(new Claim("b", Role.WRITE, "s1"))),
                released.events());
        notices.expectMessage("granted b " + location);
        assertEquals(Optional.of("b"), released.state().writer());
    }

    @Test
    void askingAgainForAHeldLeaseIsGrantedWithoutANewEvent() {
        write("a", "s1");
        notices.expectMessage("granted a " + location);
        assertTrue(write("a", "s1").hasNoEvents());
        notices.expectMessage("granted a " + location);
    }

    @Test
    void readersShareTheLeaseAndAWriterWaitsForAllOfThem() {
        read("r1");
        read("r2");
        assertEquals(Map.of("r1", Role.READ, "r2", Role.READ), target.getState().holders());
        assertEquals(new LeaseQueued(new Claim("w", Role.WRITE, "s")), write("w", "s").event());
        target.runCommand(new Release("r1"));
        assertEquals(Optional.empty(), target.getState().writer());
        CommandResult<Command, Event, TargetState> last = target.runCommand(new Release("r2"));
        assertEquals(new LeaseGranted(new Claim("w", Role.WRITE, "s")), last.events().get(1));
    }

    @Test
    void aWaitingWriterGoesBeforeReadersThatCameLater() {
        read("r1");
        write("w", "s");
        assertEquals(new LeaseQueued(new Claim("r2", Role.READ, null)), read("r2").event());
        CommandResult<Command, Event, TargetState> released = target.runCommand(new Release("r1"));
        assertEquals(List.of(new LeaseReleased("r1"), new LeaseGranted(new Claim("w", Role.WRITE, "s"))),
                released.events());
        assertEquals(List.of(new LeaseReleased("w"), new LeaseGranted(new Claim("r2", Role.READ, null))),
                target.runCommand(new Release("w")).events());
    }

    @Test
    void readersWaitingTogetherAreGrantedTogether() {
        write("w", "s");
        read("r1");
        read("r2");
        assertEquals(List.of(new LeaseReleased("w"), new LeaseGranted(new Claim("r1", Role.READ, null)),
                new LeaseGranted(new Claim("r2", Role.READ, null))), target.runCommand(new Release("w")).events());
    }

    @Test
    void aReleasedWaiterLeavesTheLineAndAnUnknownJobChangesNothing() {
        write("a", "s");
        write("b", "s");
        assertEquals(List.of(new LeaseReleased("b")), target.runCommand(new Release("b")).events());
        assertTrue(target.getState().waiting().isEmpty());
        assertTrue(target.runCommand(new Release("nobody")).hasNoEvents());
    }

    @Test
    void peekNamesTheJobThatReadsTheLocationWithoutClaimingAnything() {
        read("reader");
        var peek = target.<TargetActor.Usage>runCommand(
                replyTo -> new TargetActor.Peek("writer", Role.WRITE, replyTo));
        assertTrue(peek.hasNoEvents());
        TargetActor.Usage usage = peek.reply();
        assertEquals("reader", usage.otherJob());
        assertEquals(Role.READ, usage.otherRole());
        TargetActor.Usage free = target.<TargetActor.Usage>runCommand(
                replyTo -> new TargetActor.Peek("reader", Role.READ, replyTo)).reply();
        assertNull(free.otherJob());
    }

    @Test
    void onlyTheWriterRecordsAToken() {
        write("a", "s1");
        var notWriter = target.<TargetActor.Lineage>runCommand(
                replyTo -> new TargetActor.RecordToken("b", "s1", "t-b", replyTo));
        assertTrue(notWriter.hasNoEvents());
        assertFalse(notWriter.reply().writer());

        var recorded = target.<TargetActor.Lineage>runCommand(
                replyTo -> new TargetActor.RecordToken("a", "s1", "t-a", replyTo));
        assertEquals(new TokenRecorded("a", "s1", "t-a"), recorded.event());
        TargetActor.Lineage lineage = target.<TargetActor.Lineage>runCommand(
                replyTo -> new TargetActor.GetLineage("a", "s1", replyTo)).reply();
        assertEquals(new TargetActor.Lineage(location, true, Optional.of("t-a")), lineage);
    }

    @Test
    void aWriterFromAnotherSourceMakesTheOtherTokensWorthless() {
        write("a", "s1");
        target.<TargetActor.Lineage>runCommand(replyTo -> new TargetActor.RecordToken("a", "s1", "t1", replyTo));
        target.runCommand(new Release("a"));
        write("b", "s2");
        assertEquals(Map.of(), target.getState().lineage());
        target.<TargetActor.Lineage>runCommand(replyTo -> new TargetActor.RecordToken("b", "s2", "t2", replyTo));
        target.runCommand(new Release("b"));
        write("c", "s2");
        assertEquals(Map.of("s2", "t2"), target.getState().lineage(), "the same source keeps its token");
    }

    @Test
    void recoversFromItsEventsAndFromASnapshot() {
        write("a", "s1");
        target.<TargetActor.Lineage>runCommand(replyTo -> new TargetActor.RecordToken("a", "s1", "t1", replyTo));
        write("b", "s1");
        read("r");
        TargetState before = target.getState();
        assertEquals(before, target.restart().state(), "from events (4, below the snapshot interval of 5)");

        target.runCommand(new Release("a"));
        target.runCommand(new Release("b"));
        write("c", "s1");
        TargetState later = target.getState();
        assertFalse(SnapshotTestKit.create(kit.system()).persistedInStorage("ReplicationTarget|" + location).isEmpty(),
                "the fifth event took a snapshot");
        assertEquals(later, target.restart().state(), "from a snapshot and the events after it");
        assertEquals(Map.of("s1", "t1"), later.lineage());
    }
    /** The sharded entity answers peeks in front of its event-sourced child: the same answers, recovered ones too. */
    @Test
    void theEntityAnswersPeeksFromTheAppliedStateAndAfterARestartFromTheRecoveredOne() {
        String id = "file:/data/peek" + RUNS.incrementAndGet() + ".img";
        var first = kit.spawn(TargetActor.entity(id, notifier()));
        TestProbe<TargetActor.Usage> usage = kit.createTestProbe();
        first.tell(new TargetActor.Peek("w", Role.WRITE, usage.ref()));
        assertEquals(new TargetActor.Usage(id, null, null), usage.receiveMessage(), "nobody uses it yet");

        first.tell(new Acquire("r", Role.READ, null));
        notices.expectMessage("granted r " + id);
        first.tell(new TargetActor.Peek("w", Role.WRITE, usage.ref()));
        assertEquals(new TargetActor.Usage(id, "r", Role.READ), usage.receiveMessage(), "the reader, seen by a writer");
        first.tell(new TargetActor.Peek("r2", Role.READ, usage.ref()));
        assertEquals(new TargetActor.Usage(id, null, null), usage.receiveMessage(), "readers do not exclude readers");

        kit.stop(first);
        // A new incarnation is asked before it has recovered: the answer waits for its recovery.
        var second = kit.spawn(TargetActor.entity(id, notifier()));
        second.tell(new TargetActor.Peek("w", Role.WRITE, usage.ref()));
        assertEquals(new TargetActor.Usage(id, "r", Role.READ), usage.receiveMessage());
        second.tell(new Release("r"));
        // Peeks do not queue behind the child's commands: once the child answered one sent after
        // the release, the peek sees the release too.
        TestProbe<TargetState> state = kit.createTestProbe();
        second.tell(new TargetActor.Get(state.ref()));
        assertEquals(Map.of(), state.receiveMessage().holders());
        second.tell(new TargetActor.Peek("w", Role.WRITE, usage.ref()));
        assertEquals(new TargetActor.Usage(id, null, null), usage.receiveMessage(), "released");
        kit.stop(second);
    }
}
