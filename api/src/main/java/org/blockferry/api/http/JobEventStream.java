package org.blockferry.api.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.persistence.jdbc.query.javadsl.JdbcReadJournal;
import org.apache.pekko.persistence.query.EventEnvelope;
import org.apache.pekko.persistence.query.PersistenceQuery;
import org.apache.pekko.stream.KillSwitches;
import org.apache.pekko.stream.UniqueKillSwitch;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;
import org.blockferry.engine.actor.JobActor;
import org.blockferry.engine.actor.JobEventHandler;
import org.blockferry.engine.job.JobDocument;
import org.blockferry.engine.job.JobState.JobStatus;
import org.blockferry.engine.job.JobState;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A job's server-sent events: {@code state} on every status change and {@code progress} (job
 * and disk counters, percent, rate, ETA) whenever the job moved and at least every
 * {@code progressEvery} while it runs; the id of each event is the journal sequence number of the
 * state it shows, so a client that reconnects with {@code Last-Event-ID} gets what it missed.
 *
 * <p>One journal query per job feeds every subscriber of that job (it folds the events with
 * {@link JobEventHandler}, the actor's own handler, and shows the same {@link JobDocument} as GET). Subscribers read the feed's latest state on
 * their own clock: a slow one simply skips progress it had no time for (drop-to-latest), while
 * state changes are kept in a list and never skipped. Nothing a subscriber does reaches the copy.
 */
final class JobEventStream {
    private static final Logger log = LoggerFactory.getLogger(JobEventStream.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Marks the end of a subscriber's stream (compared by identity). */
    private static final ByteString END = ByteString.fromString("");

    private final ActorSystem<?> system;
    private final JdbcReadJournal journal;
    private final Duration tick;
    private final Duration progressEvery;
    private final Duration heartbeat;
    private final Map<String, Feed> feeds = new HashMap<>();

    JobEventStream(ActorSystem<?> system, Duration progressEvery, Duration heartbeat) {
        this.system = system;
        this.journal = PersistenceQuery.get(system).getReadJournalFor(JdbcReadJournal.class,
                JdbcReadJournal.Identifier());
        this.progressEvery = progressEvery;
        this.heartbeat = heartbeat;
        // Each subscriber looks at the feed this often: a quarter of the progress period keeps the
        // gaps under it plus a quarter, at a few hundred cheap looks per second for 500 subscribers.
        this.tick = Duration.ofMillis(Math.max(50, Math.min(500, progressEvery.toMillis() / 4)));
    }

    /** The stream of one job, from {@code lastEventId} on ({@code -1}: a new subscriber). */
    Source<ByteString, NotUsed> subscribe(String jobId, long lastEventId) {
        long subscribedAt = System.currentTimeMillis();
        return Source.tick(Duration.ZERO, tick, Boolean.TRUE)
                .mapMaterializedValue(c -> NotUsed.getInstance())
                .statefulMapConcat(() -> {
                    Feed feed = acquire(jobId);
                    Cursor cursor = new Cursor(feed, lastEventId, subscribedAt, progressEvery, heartbeat);
                    return t -> cursor.next(System.nanoTime());
                })
                .takeWhile(chunk -> chunk != END)
                .watchTermination((mat, done) -> {
                    done.whenComplete((d, e) -> release(jobId));
                    return mat;
                });
    }

    private synchronized Feed acquire(String jobId) {
        Feed feed = feeds.computeIfAbsent(jobId, this::start);
        feed.subscribers++;
        return feed;
    }

    private synchronized void release(String jobId) {
        Feed feed = feeds.get(jobId);
        if (feed != null && --feed.subscribers <= 0) {
            feeds.remove(jobId);
            feed.kill.shutdown();
        }
    }

    /**
     * The job's events so far (a finite query), then its new ones (a live query from the next
     * sequence number). Subscribers see the feed only once the first part is applied: a feed that
     * is still replaying would tell a new subscriber an old state as the current one (a running
     * job as queued).
     */
    private Feed start(String jobId) {
        Feed feed = new Feed(jobId);
        String persistenceId = JobActor.TYPE_KEY.name() + "|" + jobId;
        Source<JobStatus, NotUsed> live = Source.single(persistenceId).flatMapConcat(id -> {
            feed.caughtUp = true; // the replay ended, its events applied (each before it reached concat)
            Step last = feed.latest;
            return journal.eventsByPersistenceId(id, last == null ? 0L : last.seq() + 1, Long.MAX_VALUE)
                    .map(feed::apply);
        });
        var running = journal.currentEventsByPersistenceId(persistenceId, 0L, Long.MAX_VALUE)
                .map(feed::apply)
                .concatLazy(live) // lazy: live must start after the replay (concat would start it at once)
                .takeWhile(status -> !status.isFinal(), true)
                .viaMat(KillSwitches.single(), Keep.right())
                .toMat(Sink.ignore(), Keep.both())
                .run(system);
        feed.kill = running.first();
        running.second().whenComplete((done, failure) -> {
            if (failure != null) {
                log.warn("event=sse-feed-failed job={} error={}", jobId, failure.toString());
                feed.failed = true;
            }
        });
        return feed;
    }

    /** One job's events folded into its state, shared by its subscribers. */
    static final class Feed {
        final String jobId;
        final List<Step> stateChanges = new CopyOnWriteArrayList<>();
        volatile Step latest;
        /** The events written before the feed started are applied; {@link #latest} is current. */
        volatile boolean caughtUp;
        volatile boolean failed;
        UniqueKillSwitch kill;
        int subscribers;
        private JobState state;

        Feed(String jobId) {
            this.jobId = jobId;
            this.state = JobState.empty(jobId);
        }

        JobStatus apply(EventEnvelope envelope) {
            JobStatus before = state.status();
            state = JobEventHandler.apply(state, (JobActor.Event) envelope.event());
            Step step = new Step(envelope.sequenceNr(), envelope.timestamp(), state);
            if (state.status() != before) {
                stateChanges.add(step);
            }
            latest = step;
            return state.status();
        }
    }

    /**
     * A state and its two events, written once and shared by every subscriber; {@code writtenAt}:
     * when the event that led to it was written (the journal's timestamp, the writer's clock).
     */
    private static final class Step {
        private final long seq;
        private final long writtenAt;
        private final JobState state;
        private volatile ByteString progressEvent;
        private volatile ByteString stateEvent;

        Step(long seq, long writtenAt, JobState state) {
            this.seq = seq;
            this.writtenAt = writtenAt;
            this.state = state;
        }

        long seq() {
            return seq;
        }

        JobState state() {
            return state;
        }

        ByteString progressEvent() {
            ByteString b = progressEvent;
            if (b == null) {
                b = event("progress", seq, JobDocuments.of(JobDocument.of(state)));
                progressEvent = b;
            }
            return b;
        }

        ByteString stateEvent() {
            ByteString b = stateEvent;
            if (b == null) {
                b = event("state", seq, JobDocuments.state(state));
                stateEvent = b;
            }
            return b;
        }
    }

    /** What one subscriber has been sent. Used by one stream stage only. */
    static final class Cursor {
        private final Feed feed;
        private final boolean resumed;
        /** When the client subscribed (wall clock, millis), for a new subscriber's first state. */
        private final long subscribedAt;
        /** The feed had not caught up when the subscriber came: its first look may be late. */
        private final boolean feedWasBehind;
        private final Duration progressEvery;
        private final Duration heartbeat;
        private long lastState;
        private long lastProgress;
        private boolean started;
        private long lastProgressAt;
        private long lastWriteAt;

        Cursor(Feed feed, long lastEventId, long subscribedAt, Duration progressEvery, Duration heartbeat) {
            this.feed = feed;
            this.lastState = lastEventId;
            this.lastProgress = lastEventId;
            this.resumed = lastEventId >= 0;
            this.subscribedAt = subscribedAt;
            this.feedWasBehind = !feed.caughtUp;
            this.progressEvery = progressEvery;
            this.heartbeat = heartbeat;
            this.lastWriteAt = System.nanoTime();
        }

        /**
         * The last state change written before the subscription (the latest step when every
         * change was), or null when the job had none yet. Compared on the writer's clock, so
         * only when the feed was behind at the subscription: a skew then shows a state more or
         * less, as a feed that was current would have.
         */
        private Step stateAtSubscription() {
            if (!feedWasBehind) {
                return feed.latest; // current already (what the writer's clock says is not needed)
            }
            Step base = null;
            for (Step s : feed.stateChanges) {
                if (s.writtenAt >= subscribedAt) {
                    return base;
                }
                base = s;
            }
            return feed.latest;
        }

        List<ByteString> next(long now) {
            List<ByteString> out = new ArrayList<>();
            if (feed.failed) {
                out.add(comment("the job's event feed failed; reconnect to resume"));
                out.add(END);
                return out;
            }
            Step latest = feed.latest;
            if (latest != null && (feed.caughtUp || latest.state().status().isFinal())) {
                JobStatus status = latest.state().status();
                if (!started) {
                    started = true;
                    if (!resumed) {
                        // a new subscriber: the state the job was in when it subscribed first, not
                        // the history before (a final state comes last, after its figures). The
                        // feed may catch up long after that (its first query waits behind a busy
                        // journal) and the job may have moved on meanwhile: what it did since the
                        // subscription is sent too.
                        Step base = stateAtSubscription();
                        if (base != null && !base.state().status().isFinal()) {
                            out.add(base.stateEvent());
                        }
                        lastState = base == null ? 0 : base.seq();
                    }
                }
                for (Step s : feed.stateChanges) {
                    if (s.seq() > lastState && !s.state().status().isFinal()) {
                        out.add(s.stateEvent());
                        lastState = s.seq();
                    }
                }
                if (latest.seq() > lastProgress
                        || status == JobStatus.RUNNING && now - lastProgressAt >= progressEvery.toNanos()) {
                    out.add(latest.progressEvent());
                    lastProgress = latest.seq();
                    lastProgressAt = now;
                }
                if (status.isFinal()) {
                    out.add(latest.stateEvent());
                    out.add(END);
                    return out;
                }
            }
            if (out.isEmpty() && now - lastWriteAt >= heartbeat.toNanos()) {
                out.add(comment("heartbeat"));
            }
            if (!out.isEmpty()) {
                lastWriteAt = now;
            }
            return out;
        }
    }

    private static ByteString event(String name, long id, Map<String, Object> data) {
        try {
            return ByteString.fromString("id: " + id + "\nevent: " + name + "\ndata: " + JSON.writeValueAsString(data)
                    + "\n\n", StandardCharsets.UTF_8);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write a job document as JSON", e);
        }
    }

    private static ByteString comment(String text) {
        return ByteString.fromString(": " + text + "\n\n");
    }
}
