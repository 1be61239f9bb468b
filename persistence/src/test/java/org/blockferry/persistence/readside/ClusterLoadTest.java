package org.blockferry.persistence.readside;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.pekko.persistence.query.Offset;
import org.apache.pekko.projection.eventsourced.EventEnvelope;
import org.blockferry.engine.actor.JobActor;
import org.blockferry.engine.actor.JobActor.Event;
import org.blockferry.engine.plan.CopyMode;
import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.job.JobSpecReader;
import org.blockferry.persistence.Database;
import org.blockferry.persistence.PersistenceSettings;
import org.blockferry.persistence.ScratchDatabases;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The read side names each job's node (the column {@code node}, from {@code JobRunsOn}) and
 * answers what each node runs and what a submission's admission asks (unfinished jobs, which ids
 * it has): jobs' events through the projection's own handler, on H2 and on PostgreSQL
 * (127.0.0.1:5432, database test).
 */
class ClusterLoadTest {
    private long sequence;

    @ParameterizedTest
    @ValueSource(strings = {"h2", "postgres"})
    void runningJobsAndCopyingDisksCountForTheNodeThatRunsThemAndQueuedJobsForTheCluster(String backend)
            throws Exception {
        try (Database db = Database.open(settings(backend))) {
            db.applySchema();
            db.applySchema(); // idempotent: the column is added once
            // a: two disks copying, on n1; b: one disk copying, one completed, on n2; c: queued;
            // d: moved from n1 to n2, then cancelling with one disk copying; e: completed on n1
            submit(db, "a", "d1", "d2");
            project(db, "a", new JobActor.JobStarted(2), new JobActor.JobRunsOn("10.0.0.1:2552", 2),
                    planned("d1"), planned("d2"));
            submit(db, "b", "d1", "d2");
            project(db, "b", new JobActor.JobRunsOn("10.0.0.2:2552", 2), new JobActor.JobStarted(2), planned("d1"),
                    planned("d2"), new JobActor.DiskCompleted("d2", null, 3));
            submit(db, "c", "d1");
            submit(db, "d", "d1");
            project(db, "d", new JobActor.JobStarted(2), new JobActor.JobRunsOn("10.0.0.1:2552", 2), planned("d1"),
                    new JobActor.JobRunsOn("10.0.0.2:2552", 3), new JobActor.JobCancelRequested(4));
            submit(db, "e", "d1");
            project(db, "e", new JobActor.JobStarted(2), new JobActor.JobRunsOn("10.0.0.1:2552", 2), planned("d1"),
                    new JobActor.DiskCompleted("d1", null, 3), new JobActor.JobCompleted(4));

            JobQueries queries = new JobQueries(db.dataSource(), db.settings().backend());
            ClusterLoad load = queries.load();
            assertEquals(Map.of("10.0.0.1:2552", new ClusterLoad.NodeLoad(1, 2),
                    "10.0.0.2:2552", new ClusterLoad.NodeLoad(2, 2)), load.nodes());
            assertEquals(1, load.waitingJobs());
            assertEquals(ClusterLoad.NodeLoad.IDLE, load.of("10.0.0.3:2552"));

            assertEquals("10.0.0.2:2552", column(db, "d"), "the node that took the job up last");
            assertEquals("10.0.0.2:2552", queries.get("d").orElseThrow().node());
            assertEquals("10.0.0.1:2552", queries.list(null, 10, 0).stream().filter(j -> j.jobId().equals("e"))
                    .findFirst().orElseThrow().node());
            assertEquals(null, column(db, "c"), "a queued job runs nowhere yet");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"h2", "postgres"})
    void admissionCountsOnlyUnfinishedJobsAndFindsWhichIdsAreProjected(String backend) throws Exception {
        try (Database db = Database.open(settings(backend))) {
            db.applySchema();
            // q: queued; r: running; x: cancelling; done: completed; gone: failed
            submit(db, "q", "d1");
            submit(db, "r", "d1");
            project(db, "r", new JobActor.JobStarted(2), planned("d1"));
            submit(db, "x", "d1");
            project(db, "x", new JobActor.JobStarted(2), planned("d1"), new JobActor.JobCancelRequested(3));
            submit(db, "done", "d1");
            project(db, "done", new JobActor.JobStarted(2), planned("d1"), new JobActor.DiskCompleted("d1", null, 3),
                    new JobActor.JobCompleted(4));
            submit(db, "gone", "d1");
            project(db, "gone", new JobActor.JobStarted(2), new JobActor.JobFailed("test", 3));

            JobQueries queries = new JobQueries(db.dataSource(), db.settings().backend());
            assertEquals(Map.of("queued", 1L, "running", 1L, "cancelling", 1L, "completed", 1L, "failed", 1L),
                    queries.countByStatus(), "the five jobs are where the test put them");
            assertEquals(3, queries.countUnfinished(), "queued, running and cancelling; not completed or failed");

            assertEquals(Set.of("q", "done"), queries.present(List.of("q", "done", "not-yet", "other")));
            assertEquals(Set.of(), queries.present(List.of()));
            List<String> many = new ArrayList<>();
            for (int i = 0; i < 1200; i++) {
                many.add("unknown-" + i); // more ids than one query takes
            }
            many.add("x");
            many.add("gone");
            assertEquals(Set.of("x", "gone"), queries.present(many));
        }
    }

    private PersistenceSettings settings(String backend) throws Exception {
        return backend.equals("h2") ? ScratchDatabases.h2("cluster-load", 2) : ScratchDatabases.postgres("load", 2);
    }

    private void submit(Database db, String job, String... disks) throws Exception {
        StringBuilder json = new StringBuilder("{\"job_id\": \"" + job + "\", \"vm\": \"vm-" + job + "\", \"disks\": [");
        for (int i = 0; i < disks.length; i++) {
            json.append(i == 0 ? "" : ", ").append("{\"id\": \"").append(disks[i]).append("\", \"source\": \"/s/")
                    .append(job).append(i).append("\", \"target\": \"/t/").append(job).append(i).append("\"}");
        }
        json.append("]}");
        JobSpec spec = JobSpecReader.read(json.toString().getBytes(StandardCharsets.UTF_8)).validated();
        project(db, job, new JobActor.JobSubmitted(spec, null, 1));
    }

    private static Event planned(String disk) {
        return new JobActor.DiskPlanned(disk, 1 << 20, 1 << 20, CopyMode.FULL, "test", 2);
    }

    /** Each event through the read side's handler, in its own transaction, as the projection does. */
    private void project(Database db, String job, Event... events) throws Exception {
        for (Event e : events) {
            PooledJdbcSession session = new PooledJdbcSession(db.dataSource());
            try {
                new JobReadSide().process(session, java.util.List.of(EventEnvelope.create(Offset.sequence(++sequence),
                        JobActor.TYPE_KEY.name() + "|" + job, sequence, e, e.at())));
                session.commit();
            } finally {
                session.close();
            }
        }
    }

    private static String column(Database db, String job) throws Exception {
        try (Connection c = db.dataSource().getConnection();
             PreparedStatement s = c.prepareStatement("SELECT node FROM replication_jobs WHERE job_id = ?")) {
            s.setString(1, job);
            try (ResultSet r = s.executeQuery()) {
                r.next();
                return r.getString(1);
            }
        }
    }
}
