package org.blockferry.persistence.readside;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import javax.sql.DataSource;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.sharding.typed.ShardedDaemonProcessSettings;
import org.apache.pekko.cluster.sharding.typed.javadsl.ShardedDaemonProcess;
import org.apache.pekko.persistence.jdbc.query.javadsl.JdbcReadJournal;
import org.apache.pekko.persistence.query.Offset;
import org.apache.pekko.projection.ProjectionBehavior;
import org.apache.pekko.projection.ProjectionId;
import org.apache.pekko.projection.eventsourced.EventEnvelope;
import org.apache.pekko.projection.eventsourced.javadsl.EventSourcedProvider;
import org.apache.pekko.projection.javadsl.ExactlyOnceProjection;
import org.apache.pekko.projection.javadsl.SourceProvider;
import org.apache.pekko.projection.jdbc.javadsl.JdbcHandler;
import org.apache.pekko.projection.jdbc.javadsl.JdbcProjection;
import org.blockferry.engine.actor.JobActor;
import org.blockferry.engine.actor.JobActor.Event;
import org.blockferry.engine.job.JobSpec;

/**
 * The read side: a projection of every job's events into {@code replication_jobs} and
 * {@code vm_disks}, exactly once (the offset is stored in the same transaction as the rows).
 * Job figures are recomputed from the disks' rows after each event, so they are their sums.
 */
public final class JobReadSide extends JdbcHandler<EventEnvelope<Event>, PooledJdbcSession> {
    static final String PROJECTION = "job-read-side";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Creates the offset tables and runs the projection once in the cluster. */
    public static CompletionStage<Done> start(ActorSystem<?> system, DataSource dataSource) {
        return JdbcProjection.createTablesIfNotExists(() -> new PooledJdbcSession(dataSource), system)
                .thenApply(done -> {
                    SourceProvider<Offset, EventEnvelope<Event>> events = EventSourcedProvider.eventsByTag(system,
                            JdbcReadJournal.Identifier(), JobActor.TAG);
                    ExactlyOnceProjection<Offset, EventEnvelope<Event>> projection = JdbcProjection.exactlyOnce(
                            ProjectionId.of(PROJECTION, JobActor.TAG), events, () -> new PooledJdbcSession(dataSource),
                            JobReadSide::new, system);
                    ShardedDaemonProcess.get(system).init(ProjectionBehavior.Command.class, PROJECTION, 1,
                            i -> ProjectionBehavior.create(projection), ShardedDaemonProcessSettings.create(system),
                            Optional.of(ProjectionBehavior.stopMessage()));
                    return done;
                });
    }

    @Override
    public void process(PooledJdbcSession session, EventEnvelope<Event> envelope) throws Exception {
        String jobId = envelope.persistenceId().substring(envelope.persistenceId().indexOf('|') + 1);
        session.withConnection(c -> {
            apply(c, jobId, envelope.event());
            return null;
        });
    }

    private static void apply(Connection c, String job, Event event) throws SQLException, JsonProcessingException {
        OffsetDateTime at = time(event.at());
        if (event instanceof JobActor.JobSubmitted e) {
            insertJob(c, job, e.spec(), at);
        } else if (event instanceof JobActor.JobStarted) {
            update(c, "UPDATE replication_jobs SET status = 'running', started_at = ?, updated_at = ? WHERE job_id = ?",
                    at, at, job);
        } else if (event instanceof JobActor.DiskPlanned e) {
            update(c, "UPDATE vm_disks SET status = 'copying', mode = ?, mode_reason = ?, capacity = ?, total_bytes = ?,"
                            + " bytes_transferred = LEAST(bytes_transferred, ?), updated_at = ? WHERE job_id = ? AND disk_id = ?",
                    e.mode().json(), e.reason(), e.capacity(), e.plannedBytes(), e.plannedBytes(), at, job, e.disk());
            recompute(c, job, at);
        } else if (event instanceof JobActor.DiskProgressed e) {
            update(c, "UPDATE vm_disks SET bytes_transferred = GREATEST(bytes_transferred, LEAST(total_bytes, ?)),"
                            + " bytes_written = GREATEST(bytes_written, ?), bytes_zeroed = GREATEST(bytes_zeroed, ?),"
                            + " bytes_skipped = GREATEST(bytes_skipped, ?), checkpoint = GREATEST(checkpoint, ?),"
                            + " throughput_bps = ?, eta_seconds = ?, request_retries = GREATEST(request_retries, ?),"
                            + " status = CASE WHEN status = 'pending' THEN 'copying' ELSE status END, updated_at = ?"
                            + " WHERE job_id = ? AND disk_id = ?",
                    e.bytesDone(), e.bytesWritten(), e.bytesZeroed(), e.bytesSkipped(), e.checkpoint().offset(),
                    e.throughputBps(), e.etaSeconds(), e.requestRetries(), at, job, e.disk());
            recompute(c, job, at);
        } else if (event instanceof JobActor.DiskRetried e) {
            update(c, "UPDATE vm_disks SET retries = retries + 1, error = ?, throughput_bps = 0, eta_seconds = -1,"
                    + " updated_at = ? WHERE job_id = ? AND disk_id = ?", e.reason(), at, job, e.disk());
            recompute(c, job, at);
        } else if (event instanceof JobActor.DiskResumed e) {
            // What the restart copies again: the bytes done before it, above the last checkpoint.
            update(c, "UPDATE vm_disks SET resumes = resumes + 1, bytes_recopied = bytes_recopied + ?, updated_at = ?"
                    + " WHERE job_id = ? AND disk_id = ?", Math.max(0, e.bytesDoneBefore() - e.checkpoint().bytesDone()),
                    at, job, e.disk());
        } else if (event instanceof JobActor.DiskCompleted e) {
            update(c, "UPDATE vm_disks SET status = 'completed', bytes_transferred = total_bytes,"
                            + " checkpoint = GREATEST(checkpoint, capacity), throughput_bps = 0, eta_seconds = 0,"
                            + " change_token = ?, error = NULL, updated_at = ? WHERE job_id = ? AND disk_id = ?",
                    e.changeToken(), at, job, e.disk());
            recompute(c, job, at);
        } else if (event instanceof JobActor.DiskFailed e) {
            update(c, "UPDATE vm_disks SET status = 'failed', error = ?, throughput_bps = 0, eta_seconds = -1,"
                    + " updated_at = ? WHERE job_id = ? AND disk_id = ?", e.reason(), at, job, e.disk());
            recompute(c, job, at);
        } else if (event instanceof JobActor.JobCancelRequested) {
            update(c, "UPDATE replication_jobs SET status = 'cancelling', updated_at = ? WHERE job_id = ?", at, job);
        } else if (event instanceof JobActor.JobCompleted) {
            finish(c, job, "completed", null, at);
        } else if (event instanceof JobActor.JobFailed e) {
            finish(c, job, "failed", e.reason(), at);
        } else if (event instanceof JobActor.JobCancelled) {
            finish(c, job, "cancelled", null, at);
        }
    }

    private static void insertJob(Connection c, String job, JobSpec spec, OffsetDateTime at)
            throws SQLException, JsonProcessingException {
        if (exists(c, job)) {
            return;
        }
        update(c, "INSERT INTO replication_jobs (job_id, vm, status, mode, spec, submitted_at, updated_at)"
                + " VALUES (?, ?, 'queued', ?, ?, ?, ?)", job, spec.vm(), spec.mode().json(),
                JSON.writeValueAsString(spec), at, at);
        int position = 0;
        for (JobSpec.Disk d : spec.disks()) {
            update(c, "INSERT INTO vm_disks (job_id, disk_id, position, source, target, status, updated_at)"
                    + " VALUES (?, ?, ?, ?, ?, 'pending', ?)", job, d.id(), position++, d.source(), d.target(), at);
        }
    }

    private static boolean exists(Connection c, String job) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT 1 FROM replication_jobs WHERE job_id = ?")) {
            s.setString(1, job);
            try (ResultSet r = s.executeQuery()) {
                return r.next();
            }
        }
    }

    /** The job's figures as the sums of its disks'; percent 100 only once completed. */
    private static void recompute(Connection c, String job, OffsetDateTime at) throws SQLException {
        String sums = "SELECT COALESCE(SUM(total_bytes), 0), COALESCE(SUM(bytes_transferred), 0),"
                + " COALESCE(SUM(bytes_written), 0), COALESCE(SUM(bytes_zeroed), 0), COALESCE(SUM(bytes_skipped), 0),"
                + " COALESCE(SUM(CASE WHEN status = 'copying' THEN throughput_bps ELSE 0 END), 0),"
                + " COALESCE(SUM(retries + request_retries), 0) FROM vm_disks WHERE job_id = ?";
        long total;
        long done;
        long written;
        long zeroed;
        long skipped;
        double rate;
        int retries;
        try (PreparedStatement s = c.prepareStatement(sums)) {
            s.setString(1, job);
            try (ResultSet r = s.executeQuery()) {
                r.next();
                total = r.getLong(1);
                done = r.getLong(2);
                written = r.getLong(3);
                zeroed = r.getLong(4);
                skipped = r.getLong(5);
                rate = r.getDouble(6);
                retries = r.getInt(7);
            }
        }
        double percent = total == 0 ? 0 : Math.min(99.99, 100.0 * done / total);
        long eta = rate > 0 ? (long) Math.ceil((total - done) / rate) : -1;
        update(c, "UPDATE vm_disks SET progress_percent = CASE WHEN status = 'completed' THEN 100"
                + " WHEN total_bytes = 0 THEN 0 ELSE LEAST(99.99, 100.0 * bytes_transferred / total_bytes) END"
                + " WHERE job_id = ?", job);
        update(c, "UPDATE replication_jobs SET total_bytes = ?, bytes_transferred = ?, bytes_written = ?,"
                        + " bytes_zeroed = ?, bytes_skipped = ?, throughput_bps = ?, eta_seconds = ?, retries = ?,"
                        + " progress_percent = CASE WHEN status = 'completed' THEN 100 ELSE ? END, updated_at = ?"
                        + " WHERE job_id = ?",
                total, done, written, zeroed, skipped, rate, eta, retries, percent, at, job);
    }

    private static void finish(Connection c, String job, String status, String error, OffsetDateTime at)
            throws SQLException {
        recompute(c, job, at);
        update(c, "UPDATE replication_jobs SET status = ?, error = ?, finished_at = ?, throughput_bps = 0,"
                        + " eta_seconds = CASE WHEN ? = 'completed' THEN 0 ELSE -1 END,"
                        + " progress_percent = CASE WHEN ? = 'completed' THEN 100 ELSE progress_percent END,"
                        + " updated_at = ? WHERE job_id = ?",
                status, error, at, status, status, at, job);
        update(c, "UPDATE vm_disks SET throughput_bps = 0, eta_seconds = CASE WHEN status = 'completed' THEN 0"
                + " ELSE -1 END WHERE job_id = ?", job);
        // Disks a cancel (or a fail-fast failure) stopped before they ended.
        update(c, "UPDATE vm_disks SET status = 'cancelled', updated_at = ? WHERE job_id = ?"
                + " AND status IN ('pending', 'copying')", at, job);
    }

    private static void update(Connection c, String sql, Object... args) throws SQLException {
        try (PreparedStatement s = c.prepareStatement(sql)) {
            for (int i = 0; i < args.length; i++) {
                s.setObject(i + 1, args[i]);
            }
            s.executeUpdate();
        }
    }

    private static OffsetDateTime time(long epochMillis) {
        return OffsetDateTime.ofInstant(Instant.ofEpochMilli(epochMillis), ZoneOffset.UTC);
    }
}
