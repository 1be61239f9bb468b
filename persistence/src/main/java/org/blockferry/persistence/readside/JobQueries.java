package org.blockferry.persistence.readside;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import javax.sql.DataSource;
import org.blockferry.persistence.PersistenceSettings;

/** Questions about jobs, answered from the read side (never from the actors). */
public final class JobQueries {
    private static final String JOB_COLUMNS = "job_id, vm, status, mode, total_bytes, bytes_transferred, bytes_written,"
            + " bytes_zeroed, bytes_skipped, progress_percent, throughput_bps, eta_seconds, retries, error, spec,"
            + " submitted_at, started_at, finished_at, updated_at";

    private final DataSource dataSource;
    private final PersistenceSettings.Backend backend;

    public JobQueries(DataSource dataSource, PersistenceSettings.Backend backend) {
        this.dataSource = dataSource;
        this.backend = backend;
    }

    /** Jobs, newest first; {@code status} null for all; {@code limit} and {@code offset} page. */
    public List<JobRow> list(String status, int limit, int offset) throws SQLException {
        String sql = "SELECT " + JOB_COLUMNS + " FROM replication_jobs"
                + (status == null ? "" : " WHERE status = ?") + " ORDER BY submitted_at DESC, job_id LIMIT ? OFFSET ?";
        try (Connection c = dataSource.getConnection(); PreparedStatement s = c.prepareStatement(sql)) {
            int i = 1;
            if (status != null) {
                s.setString(i++, status);
            }
            s.setInt(i++, limit);
            s.setInt(i, offset);
            List<JobRow> out = new ArrayList<>();
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    out.add(job(r, List.of()));
                }
            }
            return out;
        }
    }

    /** One job with its disks. */
    public Optional<JobRow> get(String jobId) throws SQLException {
        try (Connection c = dataSource.getConnection()) {
            try (PreparedStatement s = c.prepareStatement("SELECT " + JOB_COLUMNS
                    + " FROM replication_jobs WHERE job_id = ?")) {
                s.setString(1, jobId);
                try (ResultSet r = s.executeQuery()) {
                    if (!r.next()) {
                        return Optional.empty();
                    }
                    return Optional.of(job(r, disks(c, jobId)));
                }
            }
        }
    }

    private static List<JobRow.DiskRow> disks(Connection c, String jobId) throws SQLException {
        String sql = "SELECT disk_id, source, target, status, mode, mode_reason, capacity, total_bytes,"
                + " bytes_transferred, bytes_written, bytes_zeroed, bytes_skipped, checkpoint, progress_percent,"
                +  " throughput_bps, eta_seconds, retries + request_retries, resumes, bytes_recopied, change_token,"
                + " error FROM vm_disks WHERE job_id = ?"
                + " ORDER BY position";
        List<JobRow.DiskRow> out = new ArrayList<>();
        try (PreparedStatement s = c.prepareStatement(sql)) {
            s.setString(1, jobId);
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    out.add(new JobRow.DiskRow(r.getString(1), r.getString(2), r.getString(3), r.getString(4),
                            r.getString(5), r.getString(6), r.getLong(7), r.getLong(8), r.getLong(9), r.getLong(10),
                            r.getLong(11), r.getLong(12), r.getLong(13), r.getDouble(14), r.getDouble(15),
                            r.getLong(16), r.getInt(17), r.getInt(18), r.getLong(19), r.getString(20), r.getString(21)));
                }
            }
        }
        return out;
    }

    private static JobRow job(ResultSet r, List<JobRow.DiskRow> disks) throws SQLException {
        return new JobRow(r.getString(1), r.getString(2), r.getString(3), r.getString(4), r.getLong(5), r.getLong(6),
                r.getLong(7), r.getLong(8), r.getLong(9), r.getDouble(10), r.getDouble(11), r.getLong(12),
                r.getInt(13), r.getString(14), r.getString(15), time(r, 16), time(r, 17), time(r, 18), time(r, 19),
                disks);
    }

    private static OffsetDateTime time(ResultSet r, int column) throws SQLException {
        return r.getObject(column, OffsetDateTime.class);
    }

    /**
     * Jobs that may still have work to do: unfinished on the read side, plus any job with events
     * the read side had not processed yet (a crash can come between an event and its projection).
     */
    public Set<String> unfinishedJobIds() throws SQLException {
        Set<String> ids = new LinkedHashSet<>();
        try (Connection c = dataSource.getConnection()) {
            try (PreparedStatement s = c.prepareStatement("SELECT job_id FROM replication_jobs"
                    + " WHERE status IN ('queued', 'running', 'cancelling') ORDER BY submitted_at")) {
                try (ResultSet r = s.executeQuery()) {
                    while (r.next()) {
                        ids.add(r.getString(1));
                    }
                }
            }
            long offset = projectedOffset(c);
            boolean h2 = backend == PersistenceSettings.Backend.H2;
            String sql = h2
                    ? "SELECT DISTINCT \"persistence_id\" FROM PUBLIC.\"event_journal\" WHERE \"ordering\" > ?"
                    : "SELECT DISTINCT persistence_id FROM event_journal WHERE ordering > ?";
            try (PreparedStatement s = c.prepareStatement(sql)) {
                s.setLong(1, offset);
                try (ResultSet r = s.executeQuery()) {
                    while (r.next()) {
                        String pid = r.getString(1);
                        if (pid.startsWith("ReplicationJob|")) {
                            ids.add(pid.substring("ReplicationJob|".length()));
                        }
                    }
                }
            }
        }
        return ids;
    }

    private static long projectedOffset(Connection c) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT current_offset FROM pekko_projection_offset_store"
                + " WHERE projection_name = ?")) {
            s.setString(1, JobReadSide.PROJECTION);
            try (ResultSet r = s.executeQuery()) {
                return r.next() ? Long.parseLong(r.getString(1)) : 0;
            }
        } catch (SQLException e) {
            return 0; // the projection has not created its tables yet: everything is unprojected
        }
    }

    /** How many jobs are in each status. */
    public java.util.Map<String, Long> countByStatus() throws SQLException {
        java.util.Map<String, Long> out = new java.util.TreeMap<>();
        try (Connection c = dataSource.getConnection(); PreparedStatement s = c.prepareStatement(
                "SELECT status, COUNT(*) FROM replication_jobs GROUP BY status");
             ResultSet r = s.executeQuery()) {
            while (r.next()) {
                out.put(r.getString(1), r.getLong(2));
            }
        }
        return out;
    }

    /** One disk's counters, for metrics. */
    public record DiskFigures(String jobId, String diskId, String status, long totalBytes, long bytesTransferred,
                              long bytesWritten, long bytesZeroed, long bytesSkipped, long retries) {
    }

    /** The disks of the {@code jobs} most recently updated jobs, with their counters. */
    public List<DiskFigures> recentDiskFigures(int jobs) throws SQLException {
        String sql = "SELECT d.job_id, d.disk_id, d.status, d.total_bytes, d.bytes_transferred, d.bytes_written,"
                + " d.bytes_zeroed, d.bytes_skipped, d.retries + d.request_retries FROM vm_disks d"
                + " JOIN (SELECT job_id FROM replication_jobs ORDER BY updated_at DESC LIMIT ?) j ON d.job_id = j.job_id"
                + " ORDER BY d.job_id, d.position";
        List<DiskFigures> out = new ArrayList<>();
        try (Connection c = dataSource.getConnection(); PreparedStatement s = c.prepareStatement(sql)) {
            s.setInt(1, jobs);
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    out.add(new DiskFigures(r.getString(1), r.getString(2), r.getString(3), r.getLong(4), r.getLong(5),
                            r.getLong(6), r.getLong(7), r.getLong(8), r.getLong(9)));
                }
            }
        }
        return out;
    }

    /**
     * The change token of the last completed sync from {@code source} to {@code target}, or empty.
     */
    public Optional<String> lastChangeToken(String source, String target) throws SQLException {
        String sql = "SELECT change_token FROM vm_disks WHERE source = ? AND target = ? AND status = 'completed'"
                + " AND change_token IS NOT NULL ORDER BY updated_at DESC LIMIT 1";
        try (Connection c = dataSource.getConnection(); PreparedStatement s = c.prepareStatement(sql)) {
            s.setString(1, source);
            s.setString(2, target);
            try (ResultSet r = s.executeQuery()) {
                return r.next() ? Optional.of(r.getString(1)) : Optional.empty();
            }
        }
    }
}
