package org.blockferry.persistence.readside;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import javax.sql.DataSource;
import org.blockferry.engine.job.JobDocument;
import org.blockferry.engine.job.JobState;
import org.blockferry.persistence.PersistenceSettings;

/** Questions about jobs, answered from the read side (never from the actors). */
public final class JobQueries {
    /** A job in one of these statuses has not ended: it holds a place on its node. */
    private static final String UNFINISHED = "status IN ('queued', 'running', 'cancelling')";
    /** Job ids asked about in one query at most ({@link #present}). */
    private static final int IDS_PER_QUERY = 500;

    private final DataSource dataSource;
    private final PersistenceSettings.Backend backend;

    public JobQueries(DataSource dataSource, PersistenceSettings.Backend backend) {
        this.dataSource = dataSource;
        this.backend = backend;
    }

    /** Jobs, newest first; {@code status} null for all; {@code limit} and {@code offset} page. */
    public List<JobDocument> list(String status, int limit, int offset) throws SQLException {
        String sql = "SELECT state FROM replication_jobs" + (status == null ? "" : " WHERE status = ?")
                + " ORDER BY submitted_at DESC, job_id LIMIT ? OFFSET ?";
        try (Connection c = dataSource.getConnection(); PreparedStatement s = c.prepareStatement(sql)) {
            int i = 1;
            if (status != null) {
                s.setString(i++, status);
            }
            s.setInt(i++, limit);
            s.setInt(i, offset);
            List<JobDocument> out = new ArrayList<>();
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    out.add(JobDocument.of(JobStateJson.read(r.getString(1))));
                }
            }
            return out;
        }
    }

    /** One job as the read side has it. */
    public Optional<JobDocument> get(String jobId) throws SQLException {
        return state(jobId).map(JobDocument::of);
    }

    /** One job's state as the read side folded it (what {@link #get} renders). */
    public Optional<JobState> state(String jobId) throws SQLException {
        try (Connection c = dataSource.getConnection()) {
            return JobReadSide.load(c, jobId);
        }
    }

    /** Every job id the read side has, oldest first. */
    public List<String> jobIds() throws SQLException {
        List<String> ids = new ArrayList<>();
        try (Connection c = dataSource.getConnection();
             PreparedStatement s = c.prepareStatement("SELECT job_id FROM replication_jobs ORDER BY submitted_at");
             ResultSet r = s.executeQuery()) {
            while (r.next()) {
                ids.add(r.getString(1));
            }
        }
        return ids;
    }

    /**
     * Jobs that may still have work to do: unfinished on the read side, plus any job with events
     * the read side had not processed yet (a crash can come between an event and its projection).
     */
    public Set<String> unfinishedJobIds() throws SQLException {
        Set<String> ids = new LinkedHashSet<>();
        try (Connection c = dataSource.getConnection()) {
            try (PreparedStatement s = c.prepareStatement("SELECT job_id FROM replication_jobs WHERE " + UNFINISHED
                    + " ORDER BY submitted_at")) {
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

    /**
     * How many jobs the read side shows queued, running or cancelling: a range of the status
     * index, whatever the number of jobs that ever ended (counting every status scanned them all,
     * ~30 ms per submission on PostgreSQL with 100,000 ended jobs).
     */
    public long countUnfinished() throws SQLException {
        try (Connection c = dataSource.getConnection();
             PreparedStatement s = c.prepareStatement("SELECT COUNT(*) FROM replication_jobs WHERE " + UNFINISHED);
             ResultSet r = s.executeQuery()) {
            return r.next() ? r.getLong(1) : 0;
        }
    }

    /** Those of {@code jobIds} the read side has a row for (their ids only, no state read). */
    public Set<String> present(Collection<String> jobIds) throws SQLException {
        Set<String> found = new HashSet<>();
        List<String> ids = List.copyOf(jobIds);
        try (Connection c = dataSource.getConnection()) {
            for (int from = 0; from < ids.size(); from += IDS_PER_QUERY) {
                List<String> part = ids.subList(from, Math.min(ids.size(), from + IDS_PER_QUERY));
                String marks = String.join(", ", Collections.nCopies(part.size(), "?"));
                try (PreparedStatement s = c.prepareStatement("SELECT job_id FROM replication_jobs WHERE job_id IN ("
                        + marks + ")")) {
                    for (int i = 0; i < part.size(); i++) {
                        s.setString(i + 1, part.get(i));
                    }
                    try (ResultSet r = s.executeQuery()) {
                        while (r.next()) {
                            found.add(r.getString(1));
                        }
                    }
                }
            }
        }
        return found;
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

    /**
     * Per node, its running jobs and their copying disks, and the jobs queued cluster-wide. A
     * cancelling job still runs (its disks are stopping). Running jobs that name no node yet
     * (taken up by a version that did not record it) count for none.
     */
    public ClusterLoad load() throws SQLException {
        java.util.Map<String, ClusterLoad.NodeLoad> nodes = new java.util.TreeMap<>();
        try (Connection c = dataSource.getConnection()) {
            try (PreparedStatement s = c.prepareStatement("SELECT j.node, COUNT(DISTINCT j.job_id), COUNT(d.disk_id)"
                    + " FROM replication_jobs j LEFT JOIN vm_disks d ON d.job_id = j.job_id AND d.status = 'copying'"
                    + " WHERE j.status IN ('running', 'cancelling') AND j.node IS NOT NULL GROUP BY j.node");
                 ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    nodes.put(r.getString(1), new ClusterLoad.NodeLoad(r.getLong(2), r.getLong(3)));
                }
            }
            try (PreparedStatement s = c.prepareStatement(
                    "SELECT COUNT(*) FROM replication_jobs WHERE status = 'queued'");
                 ResultSet r = s.executeQuery()) {
                r.next();
                return new ClusterLoad(nodes, r.getLong(1));
            }
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

    /** The {@code jobs} most recently updated jobs (for metrics). */
    public List<JobDocument> recent(int jobs) throws SQLException {
        List<JobDocument> out = new ArrayList<>();
        try (Connection c = dataSource.getConnection(); PreparedStatement s = c.prepareStatement(
                "SELECT state FROM replication_jobs ORDER BY updated_at DESC LIMIT ?")) {
            s.setInt(1, jobs);
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    out.add(JobDocument.of(JobStateJson.read(r.getString(1))));
                }
            }
        }
        return out;
    }
}
