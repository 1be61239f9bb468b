package org.blockferry.api.http;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.pekko.persistence.query.EventEnvelope;
import org.apache.pekko.persistence.query.Sequence;
import org.apache.pekko.util.ByteString;
import org.blockferry.engine.actor.JobActor;
import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.job.JobState.DiskIdentities;
import org.blockferry.engine.plan.CopyMode;
import org.junit.jupiter.api.Test;

/**
 * What a new subscriber of a job's stream is sent first, when the job's feed caught up with the
 * journal only after the job had moved on (its first query waited behind a busy journal): the
 * state the job was in when the client subscribed, then every change since — never only the end.
 */
class JobEventStreamTest {
    private static final long T0 = 1_800_000_000_000L;
    private static final Pattern EVENT = Pattern.compile("id: (\\d+)\nevent: (\\w+)\ndata: (.*)\n\n");
    private static final Pattern STATUS = Pattern.compile("\"status\":\"(\\w+)\"");

    private static void apply(JobEventStream.Feed feed, String jobId, long... writtenAt) {
        JobSpec spec = new JobSpec(jobId, "vm1", null, List.of(new JobSpec.Disk("d0", "/vm/d0.img", "/copies/d0.img")),
                CopyMode.AUTO, null).validated();
        List<JobActor.Event> events = List.of(
                new JobActor.JobSubmitted(spec, Map.of("d0", new DiskIdentities("file:/vm/d0.img",
                        "file:/copies/d0.img")), writtenAt[0]),
                new JobActor.JobStarted(writtenAt[1]),
                new JobActor.JobCompleted(writtenAt[2]));
        for (int i = 0; i < events.size(); i++) {
            feed.apply(new EventEnvelope(new Sequence(i + 1), "Job|" + jobId, i + 1, events.get(i), writtenAt[i]));
        }
    }

    private static JobEventStream.Cursor cursor(JobEventStream.Feed feed, long subscribedAt) {
        return new JobEventStream.Cursor(feed, -1, subscribedAt, Duration.ofSeconds(2), Duration.ofSeconds(15));
    }

    /** "event:status@id" per event, "progress@id" for progress, "end" for the stream's end. */
    private static List<String> read(List<ByteString> chunks) {
        List<String> out = new ArrayList<>();
        for (ByteString chunk : chunks) {
            if (chunk.isEmpty()) {
                out.add("end");
                continue;
            }
            Matcher m = EVENT.matcher(chunk.utf8String());
            if (!m.matches()) {
                out.add("other: " + chunk.utf8String());
            } else if (m.group(2).equals("state")) {
                Matcher status = STATUS.matcher(m.group(3));
                out.add("state:" + (status.find() ? status.group(1) : "?") + "@" + m.group(1));
            } else {
                out.add(m.group(2) + "@" + m.group(1));
            }
        }
        return out;
    }

    @Test
    void aSubscriberWhoseFeedCaughtUpAfterTheJobEndedIsToldItRanSinceItSubscribed() {
        JobEventStream.Feed feed = new JobEventStream.Feed("late");
        JobEventStream.Cursor c = cursor(feed, T0); // subscribed while the job was queued
        assertEquals(List.of(), read(c.next(System.nanoTime())), "nothing before the feed caught up");
        apply(feed, "late", T0 - 1000, T0 + 85, T0 + 400);
        feed.caughtUp = true;
        assertEquals(List.of("state:queued@1", "state:running@2", "progress@3", "state:completed@3", "end"),
                read(c.next(System.nanoTime())));
    }

    @Test
    void aSubscriberThatCameWhileTheJobRanIsNotToldItWasQueued() {
        JobEventStream.Feed feed = new JobEventStream.Feed("ran");
        JobEventStream.Cursor c = cursor(feed, T0);
        apply(feed, "ran", T0 - 1000, T0 - 500, T0 + 400);
        feed.caughtUp = true;
        assertEquals(List.of("state:running@2", "progress@3", "state:completed@3", "end"),
                read(c.next(System.nanoTime())));
    }

    @Test
    void aSubscriberOfAJobThatHadEndedGetsItsFiguresAndFinalStateOnly() {
        JobEventStream.Feed feed = new JobEventStream.Feed("done");
        JobEventStream.Cursor c = cursor(feed, T0);
        apply(feed, "done", T0 - 3000, T0 - 2000, T0 - 1000);
        feed.caughtUp = true;
        assertEquals(List.of("progress@3", "state:completed@3", "end"), read(c.next(System.nanoTime())));
    }

    @Test
    void aSubscriberOfACurrentFeedStartsFromItsLatestStateWhateverTheWritersClockSays() {
        JobEventStream.Feed feed = new JobEventStream.Feed("current");
        feed.caughtUp = true; // another subscriber's feed, current when this one comes
        JobEventStream.Cursor c = cursor(feed, T0);
        // written by a node whose clock is a minute ahead: not taken for changes after the subscription
        JobSpec spec = new JobSpec("current", "vm1", null, List.of(new JobSpec.Disk("d0", "/vm/d0.img",
                "/copies/d0.img")), CopyMode.AUTO, null).validated();
        feed.apply(new EventEnvelope(new Sequence(1), "Job|current", 1, new JobActor.JobSubmitted(spec, Map.of("d0",
                new DiskIdentities("file:/vm/d0.img", "file:/copies/d0.img")), T0 + 60_000), T0 + 60_000));
        feed.apply(new EventEnvelope(new Sequence(2), "Job|current", 2, new JobActor.JobStarted(T0 + 60_001),
                T0 + 60_001));
        assertEquals(List.of("state:running@2", "progress@2"), read(c.next(System.nanoTime())));
    }
}
