package org.blockferry.api.http;

import java.sql.SQLException;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.blockferry.persistence.readside.JobQueries;

/**
 * Whether the node takes one more job ({@code blockferry.jobs.max-queued}): the jobs the read
 * side shows queued, running or cancelling, plus those accepted here that it does not show yet
 * (it follows the journal a moment behind), plus submissions in flight, stay below the limit.
 */
final class JobAdmission {
    private static final Duration PROJECTION_LAG = Duration.ofMinutes(1);

    private final JobQueries queries;
    private final int max;
    /** Jobs accepted here, by id, with when (nanoTime), until the read side shows them. */
    private final Map<String, Long> unprojected = new ConcurrentHashMap<>();
    private int inFlight; // guarded by this

    JobAdmission(JobQueries queries, int max) {
        this.queries = queries;
        this.max = max;
    }

    int max() {
        return max;
    }

    /** Runs JDBC: call it off the server's threads. True (and a place held) when there is room. */
    boolean tryReserve() throws SQLException {
        long unfinished = unfinished();
        synchronized (this) {
            if (unfinished + unprojected.size() + inFlight >= max) {
                return false;
            }
            inFlight++;
            return true;
        }
    }

    /** The reserved submission ended: accepted as {@code jobId}, or (null) refused. */
    synchronized void release(String acceptedJobId) {
        inFlight--;
        if (acceptedJobId != null) {
            unprojected.put(acceptedJobId, System.nanoTime());
        }
    }

    /**
     * The unfinished jobs: those the read side counts, plus those accepted here that it has no row
     * for yet. Which accepted jobs it has is asked first, so a job projected in between is counted
     * twice for a moment (never not at all). Two indexed queries, whatever the number of jobs.
     */
    private long unfinished() throws SQLException {
        long stale = System.nanoTime() - PROJECTION_LAG.toNanos();
        unprojected.values().removeIf(at -> at - stale < 0); // the read side will never show those: long gone
        if (!unprojected.isEmpty()) {
            unprojected.keySet().removeAll(queries.present(unprojected.keySet())); // counted by the read side now
        }
        return queries.countUnfinished();
    }
}
