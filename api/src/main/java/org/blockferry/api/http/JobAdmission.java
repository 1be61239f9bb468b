package org.blockferry.api.http;

import java.sql.SQLException;
import java.time.Duration;
import java.util.Iterator;
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

    private long unfinished() throws SQLException {
        Map<String, Long> byStatus = queries.countByStatus();
        long n = byStatus.getOrDefault("queued", 0L) + byStatus.getOrDefault("running", 0L)
                + byStatus.getOrDefault("cancelling", 0L);
        long stale = System.nanoTime() - PROJECTION_LAG.toNanos();
        for (Iterator<Map.Entry<String, Long>> it = unprojected.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<String, Long> e = it.next();
            if (e.getValue() - stale < 0 || queries.get(e.getKey()).isPresent()) {
                it.remove(); // counted by the read side now (or never will be: the job is long gone)
            }
        }
        return n;
    }
}
