package org.blockferry.persistence.lease;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.function.Function;
import javax.sql.DataSource;
import org.blockferry.persistence.PersistenceSettings;

/** Reads where a job's events end in pekko-persistence-jdbc's journal table. */
public final class JournalEnds {
    private JournalEnds() {
    }

    /**
     * The highest {@code sequence_number} of the persistence id {@code persistenceId} gives a job
     * ({@code -1} when it has no event), read from {@code dataSource}.
     */
    public static DatabaseJobOwnership.JournalEnd of(DataSource dataSource, PersistenceSettings.Backend backend,
                                                     Function<String, String> persistenceId) {
        String sql = backend == PersistenceSettings.Backend.H2
                ? "SELECT MAX(\"sequence_number\") FROM PUBLIC.\"event_journal\" WHERE \"persistence_id\" = ?"
                : "SELECT MAX(sequence_number) FROM event_journal WHERE persistence_id = ?";
        return jobId -> {
            try (Connection c = dataSource.getConnection(); PreparedStatement s = c.prepareStatement(sql)) {
                s.setString(1, persistenceId.apply(jobId));
                try (ResultSet r = s.executeQuery()) {
                    if (!r.next()) {
                        return -1;
                    }
                    long max = r.getLong(1);
                    return r.wasNull() ? -1 : max;
                }
            } catch (SQLException e) {
                throw new SQLException("cannot read the journal's end for job " + jobId + ": " + e.getMessage(), e);
            }
        };
    }
}
