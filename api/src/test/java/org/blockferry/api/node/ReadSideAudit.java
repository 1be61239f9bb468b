package org.blockferry.api.node;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.persistence.jdbc.query.javadsl.JdbcReadJournal;
import org.apache.pekko.persistence.query.PersistenceQuery;
import org.apache.pekko.stream.javadsl.Sink;
import org.blockferry.api.http.JobDocuments;
import org.blockferry.engine.actor.JobActor;
import org.blockferry.engine.actor.JobEventHandler;
import org.blockferry.engine.job.JobDocument;
import org.blockferry.engine.job.JobState;

/**
 * The read side against the journal: every job of a node's database, its events folded with the
 * job actor's handler, must equal the state the read side stored, field for field. Every test
 * node runs it when it closes ({@link NodeFixture#start}).
 */
public final class ReadSideAudit {
    /** How long the projection may trail the journal before a difference is a failure. */
    private static final Duration LAG = Duration.ofSeconds(20);

    private ReadSideAudit() {
    }

    /** Checks every job; throws an AssertionError naming the first job and fields that differ. */
    public static void check(Node node) {
        JdbcReadJournal journal = PersistenceQuery.get(node.system()).getReadJournalFor(JdbcReadJournal.class,
                JdbcReadJournal.Identifier());
        List<String> ids = get(journal.currentPersistenceIds()
                .filter(pid -> pid.startsWith(JobActor.TYPE_KEY.name() + "|"))
                .runWith(Sink.seq(), node.system()));
        for (String pid : ids) {
            checkJob(node, journal, pid.substring(pid.indexOf('|') + 1));
        }
    }

    private static void checkJob(Node node, JdbcReadJournal journal, String jobId) {
        long deadline = System.nanoTime() + LAG.toNanos();
        while (true) {
            JobState folded = fold(node, journal, jobId);
            Optional<JobState> stored;
            try {
                stored = node.queries().state(jobId);
            } catch (java.sql.SQLException e) {
                throw new AssertionError("the read side does not answer: " + e, e);
            }
            if (stored.isPresent() && stored.get().equals(folded)) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("job " + jobId + ": the read side differs from its journal folded with"
                        + " JobEventHandler after " + LAG + "\n journal:   " + document(folded) + "\n read side: "
                        + stored.map(ReadSideAudit::document).orElse("(none)"));
            }
            sleep();
        }
    }

    private static JobState fold(Node node, JdbcReadJournal journal, String jobId) {
        return get(journal.currentEventsByPersistenceId(JobActor.TYPE_KEY.name() + "|" + jobId, 0, Long.MAX_VALUE)
                .runFold(JobState.empty(jobId), (s, e) -> JobEventHandler.apply(s, (JobActor.Event) e.event()),
                        node.system()));
    }

    private static String document(JobState s) {
        return JobDocuments.of(JobDocument.of(s)) + " " + s;
    }

    private static <T> T get(java.util.concurrent.CompletionStage<T> stage) {
        try {
            return stage.toCompletableFuture().get(60, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new AssertionError("cannot read the journal: " + e, e);
        }
    }

    private static void sleep() {
        try {
            Thread.sleep(200);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }
}
