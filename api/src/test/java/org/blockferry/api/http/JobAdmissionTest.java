package org.blockferry.api.http;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import org.blockferry.persistence.Database;
import org.blockferry.persistence.PersistenceSettings;
import org.blockferry.persistence.readside.JobQueries;
import org.junit.jupiter.api.Test;

/**
 * {@code blockferry.jobs.max-queued} on a real H2 read side: jobs accepted here count until the
 * read side has them, then as the read side shows them — unfinished ones hold a place, ended ones
 * (however many) do not.
 */
class JobAdmissionTest {

    @Test
    void acceptedJobsHoldPlacesUntilTheReadSideShowsThemEndedAndEndedJobsHoldNone() throws Exception {
        Path dir = Files.createDirectories(Path.of("target", "tests").toAbsolutePath())
                .resolve("admission-" + System.nanoTime());
        try (Database db = Database.open(PersistenceSettings.h2(dir.resolve("blockferry"), 2))) {
            db.applySchema();
            for (int i = 0; i < 300; i++) {
                row(db, "old-" + i, i % 2 == 0 ? "completed" : "failed"); // history: holds no place
            }
            JobAdmission admission = new JobAdmission(new JobQueries(db.dataSource(), db.settings().backend()), 2);

            assertTrue(admission.tryReserve());
            assertTrue(admission.tryReserve(), "two submissions in flight, limit 2: the second still fits");
            assertFalse(admission.tryReserve(), "a third while two are in flight");
            admission.release("a"); // accepted, the read side has no row for it yet
            admission.release(null); // refused: its place comes back
            assertTrue(admission.tryReserve());
            admission.release("b");
            assertFalse(admission.tryReserve(), "a and b, accepted and not projected yet, fill the node");

            row(db, "a", "running"); // projected: counted once, by the read side
            assertFalse(admission.tryReserve(), "a runs, b is not projected yet");
            row(db, "b", "queued");
            assertFalse(admission.tryReserve(), "both on the read side now, still two unfinished");

            status(db, "a", "completed");
            assertTrue(admission.tryReserve(), "a ended: its place is free");
            admission.release(null);
            status(db, "b", "cancelling");
            assertTrue(admission.tryReserve(), "a cancelling job still holds a place: b and this one");
            assertFalse(admission.tryReserve());
        }
    }

    private static void row(Database db, String jobId, String status) throws Exception {
        try (Connection c = db.dataSource().getConnection(); PreparedStatement s = c.prepareStatement(
                "INSERT INTO replication_jobs (job_id, vm, status, mode, spec, submitted_at, updated_at)"
                        + " VALUES (?, 'vm', ?, 'full', '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)")) {
            s.setString(1, jobId);
            s.setString(2, status);
            s.executeUpdate();
        }
    }

    private static void status(Database db, String jobId, String status) throws Exception {
        try (Connection c = db.dataSource().getConnection();
             PreparedStatement s = c.prepareStatement("UPDATE replication_jobs SET status = ? WHERE job_id = ?")) {
            s.setString(1, status);
            s.setString(2, jobId);
            s.executeUpdate();
        }
    }
}
