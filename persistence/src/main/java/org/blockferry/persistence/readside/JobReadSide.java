package org.blockferry.persistence.readside;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import javax.sql.DataSource;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.sharding.typed.ShardedDaemonProcessSettings;
import org.apache.pekko.cluster.sharding.typed.javadsl.ShardedDaemonProcess;
import org.apache.pekko.persistence.query.Offset;
import org.apache.pekko.projection.ProjectionBehavior;
import org.apache.pekko.projection.ProjectionId;
import org.apache.pekko.projection.eventsourced.EventEnvelope;
import org.apache.pekko.projection.eventsourced.javadsl.EventSourcedProvider;
import org.apache.pekko.projection.javadsl.GroupedProjection;
import org.apache.pekko.projection.javadsl.SourceProvider;
import org.apache.pekko.projection.jdbc.javadsl.JdbcHandler;
import org.apache.pekko.projection.jdbc.javadsl.JdbcProjection;
import org.blockferry.engine.actor.JobActor.Event;
import org.blockferry.engine.actor.JobActor;
import org.blockferry.engine.actor.JobEventHandler;
import org.blockferry.engine.job.DiskState;
import org.blockferry.engine.job.JobDocument;
import org.blockferry.engine.job.JobState;
import org.blockferry.persistence.JournalConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The read side: a projection of every job's events, exactly once (the offset is stored in the
 * same transaction as the rows), in groups: the events that arrived together (up to
 * {@link #GROUP} of them, or what came within {@link #GROUP_WITHIN}) are one transaction, and a
 * job with several events in a group is read and stored once. For each job it reads the stored
 * {@link JobState}, applies the job actor's own {@link JobEventHandler} to each event in order,
 * and stores the result: the state itself
 * (JSON) and, copied from its {@link JobDocument}, the columns of {@code replication_jobs} and
 * {@code vm_disks} for listing, filtering and SQL. Nothing is derived here.
 */
public final class JobReadSide extends JdbcHandler<List<EventEnvelope<Event>>, PooledJdbcSession> {
    static final String PROJECTION = "job-read-side";
    /**
     * Events per transaction at most. One event per transaction kept up with a few hundred events
     * a second; a burst of submissions and progress fell seconds behind (bench/README.md).
     */
    static final int GROUP = 200;
    /**
     * How long a group waits for more events: added to the read side's lag when it is idle. The
     * events of one poll of the journal arrive together, so a short wait still groups them. The
     * group's timer fires this often even when no event comes (5 ms was 200 wake-ups a second of
     * an idle node once timers fired on time: {@code PreciseScheduler}).
     */
    static final Duration GROUP_WITHIN = Duration.ofMillis(10);
    private static final Logger log = LoggerFactory.getLogger(JobReadSide.class);

    /** Creates the offset tables and runs the projection once in the cluster. */
    public static CompletionStage<Done> start(ActorSystem<?> system, DataSource dataSource) {
        return createTables(system, dataSource, 1)
                .thenApply(done -> {
                    reprojectOlderRows(dataSource);
                    SourceProvider<Offset, EventEnvelope<Event>> events = EventSourcedProvider.eventsByTag(system,
                            JournalConfig.READ_SIDE_JOURNAL, JobActor.TAG);
                    GroupedProjection<Offset, EventEnvelope<Event>> projection = JdbcProjection.groupedWithin(
                            ProjectionId.of(PROJECTION, JobActor.TAG), events, () -> new PooledJdbcSession(dataSource),
                            JobReadSide::new, system).withGroup(GROUP, GROUP_WITHIN);
                    ShardedDaemonProcess.get(system).init(ProjectionBehavior.Command.class, PROJECTION, 1,
                            i -> ProjectionBehavior.create(projection), ShardedDaemonProcessSettings.create(system),
                            Optional.of(ProjectionBehavior.stopMessage()));
                    return done;
                });
    }

    /**
     * The projection's offset tables. Nodes of a cluster starting together on a new database race
     * to create them (PostgreSQL's {@code CREATE TABLE IF NOT EXISTS} is not safe against that):
     * the loser tries again and finds them there.
     */
    private static CompletionStage<Done> createTables(ActorSystem<?> system, DataSource dataSource, int attempt) {
        return JdbcProjection.createTablesIfNotExists(() -> new PooledJdbcSession(dataSource), system)
                .handle((done, e) -> {
                    if (e == null) {
                        return java.util.concurrent.CompletableFuture.completedFuture(done);
                    }
                    if (attempt >= 5) {
                        return java.util.concurrent.CompletableFuture.<Done>failedFuture(e);
                    }
                    log.info("event=read-side-tables-retry attempt={} error={}", attempt, e.toString());
                    return java.util.concurrent.CompletableFuture.supplyAsync(() -> null,
                                    java.util.concurrent.CompletableFuture.delayedExecutor(200L * attempt,
                                            java.util.concurrent.TimeUnit.MILLISECONDS))
                            .thenCompose(x -> createTables(system, dataSource, attempt + 1));
                }).thenCompose(x -> x);
    }

    /**
     * Rows written by a version that did not store the state cannot be folded further: the read
     * side starts again from the journal's first event (which it keeps whole).
     */
    private static void reprojectOlderRows(DataSource dataSource) {
        try (Connection c = dataSource.getConnection()) {
            boolean older;
            try (PreparedStatement s = c.prepareStatement("SELECT 1 FROM replication_jobs WHERE state IS NULL");
                 ResultSet r = s.executeQuery()) {
                older = r.next();
            }
            if (older) {
                c.setAutoCommit(false);
                update(c, "DELETE FROM vm_disks");
                update(c, "DELETE FROM replication_jobs");
                update(c, "DELETE FROM pekko_projection_offset_store WHERE projection_name = ?", PROJECTION);
                c.commit();
                log.info("event=read-side-reprojected why=rows-without-state");
            }
        } catch (SQLException e) {
            throw new IllegalStateException("cannot prepare the read side: " + e.getMessage(), e);
        }
    }

    @Override
    public void process(PooledJdbcSession session, List<EventEnvelope<Event>> envelopes) throws Exception {
        session.withConnection(c -> {
            Map<String, JobState> states = new LinkedHashMap<>(); // per job, in the order first seen
            Map<String, Long> lastAt = new LinkedHashMap<>();
            for (EventEnvelope<Event> envelope : envelopes) {
                String jobId = envelope.persistenceId().substring(envelope.persistenceId().indexOf('|') + 1);
                JobState before = states.containsKey(jobId) ? states.get(jobId)
                        : load(c, jobId).orElseGet(() -> JobState.empty(jobId));
                states.put(jobId, JobEventHandler.apply(before, envelope.event()));
                lastAt.put(jobId, envelope.event().at());
            }
            for (Map.Entry<String, JobState> e : states.entrySet()) {
                store(c, e.getValue(), lastAt.get(e.getKey()));
            }
            return null;
        });
    }

    static Optional<JobState> load(Connection c, String jobId) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT state FROM replication_jobs WHERE job_id = ?")) {
            s.setString(1, jobId);
            try (ResultSet r = s.executeQuery()) {
                return r.next() && r.getString(1) != null ? Optional.of(JobStateJson.read(r.getString(1)))
                        : Optional.empty();
            }
        }
    }

    private static void store(Connection c, JobState state, long at) throws SQLException {
        if (state.spec() == null) {
            return; // an event before the submission (none exists): nothing to show
        }
        JobDocument d = JobDocument.of(state);
        OffsetDateTime now = time(at);
        int updated = update(c, "UPDATE replication_jobs SET status = ?, total_bytes = ?, bytes_transferred = ?,"
                        + " bytes_written = ?, bytes_zeroed = ?, bytes_skipped = ?, progress_percent = ?,"
                        + " throughput_bps = ?, eta_seconds = ?, retries = ?, error = ?, started_at = ?, finished_at = ?,"
                        + " updated_at = ?, node = ?, state = ? WHERE job_id = ?",
                d.status(), d.totalBytes(), d.bytesTransferred(), d.bytesWritten(), d.bytesZeroed(), d.bytesSkipped(),
                d.progressPercent(), d.throughputBps(), d.etaSeconds(), (int) d.retries(), d.error(),
                time(state.startedAt()), time(state.finishedAt()), now, d.node(), JobStateJson.write(state),
                state.jobId());
        if (updated == 0) {
            update(c, "INSERT INTO replication_jobs (job_id, vm, status, mode, total_bytes, bytes_transferred,"
                            + " bytes_written, bytes_zeroed, bytes_skipped, progress_percent, throughput_bps, eta_seconds,"
                            + " retries, error, spec, submitted_at, started_at, finished_at, updated_at, node, state)"
                            + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    state.jobId(), d.vm(), d.status(), d.mode(), d.totalBytes(), d.bytesTransferred(),
                    d.bytesWritten(), d.bytesZeroed(), d.bytesSkipped(), d.progressPercent(), d.throughputBps(),
                    d.etaSeconds(), (int) d.retries(), d.error(), JobStateJson.write(state.spec()),
                    time(state.submittedAt()), time(state.startedAt()), time(state.finishedAt()), now, d.node(),
                    JobStateJson.write(state));
        }
        int position = 0;
        for (JobDocument.Disk disk : d.disks()) {
            storeDisk(c, state.jobId(), position++, disk, state.disk(disk.id()), now);
        }
    }

    private static void storeDisk(Connection c, String job, int position, JobDocument.Disk d, DiskState s,
                                  OffsetDateTime now) throws SQLException {
        Object[] figures = {d.status(), d.mode(), d.modeReason(), d.capacity(), d.totalBytes(), d.bytesTransferred(),
            d.bytesWritten(), d.bytesZeroed(), d.bytesSkipped(), d.bytesZeroSent(), d.checkpoint(),
            d.progressPercent(), d.throughputBps(), d.etaSeconds(), s.retries(), s.requestRetries(), d.resumes(),
            d.bytesRecopied(), d.changeToken(), d.error(), now};
        String columns = "status, mode, mode_reason, capacity, total_bytes, bytes_transferred, bytes_written,"
                + " bytes_zeroed, bytes_skipped, bytes_zero_sent, checkpoint, progress_percent, throughput_bps,"
                + " eta_seconds, retries, request_retries, resumes, bytes_recopied, change_token, error, updated_at";
        Object[] whereArgs = {job, d.id()};
        int updated = update(c, "UPDATE vm_disks SET " + columns.replace(",", " = ?,") + " = ?"
                + " WHERE job_id = ? AND disk_id = ?", concat(figures, whereArgs));
        if (updated == 0) {
            update(c, "INSERT INTO vm_disks (job_id, disk_id, position, source, target, " + columns + ") VALUES ("
                    + "?, ?, ?, ?, ?, " + "?, ".repeat(figures.length - 1) + "?)",
                    concat(new Object[] {job, d.id(), position, d.source(), d.target()}, figures));
        }
    }

    private static Object[] concat(Object[] a, Object[] b) {
        Object[] out = new Object[a.length + b.length];
        System.arraycopy(a, 0, out, 0, a.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    private static int update(Connection c, String sql, Object... args) throws SQLException {
        try (PreparedStatement s = c.prepareStatement(sql)) {
            for (int i = 0; i < args.length; i++) {
                s.setObject(i + 1, args[i]);
            }
            return s.executeUpdate();
        }
    }

    private static OffsetDateTime time(long epochMillis) {
        return epochMillis == 0 ? null : OffsetDateTime.ofInstant(Instant.ofEpochMilli(epochMillis), ZoneOffset.UTC);
    }
}
