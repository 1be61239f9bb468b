package org.blockferry.persistence;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Databases made by BlockFerry 0.1 have user {@code sa} with an empty password: the first start
 * of a newer version gives it the random password of its password file.
 */
final class H2Password {
    private static final Logger log = LoggerFactory.getLogger(H2Password.class);
    /** H2's "Wrong user name or password". */
    private static final int WRONG_PASSWORD = 28000;

    private H2Password() {
    }

    static void setIfEmpty(PersistenceSettings settings) throws SQLException {
        Path file = Path.of(settings.url().substring("jdbc:h2:file:".length()).split(";")[0] + ".mv.db");
        if (!Files.exists(file)) {
            return; // a new database is made with the password
        }
        try (Connection c = DriverManager.getConnection(settings.url(), settings.user(), settings.password())) {
            return;
        } catch (SQLException e) {
            if (e.getErrorCode() != WRONG_PASSWORD) {
                return; // busy, or anything else: the caller's own attempt reports it
            }
        }
        try (Connection c = DriverManager.getConnection(settings.url(), settings.user(), "");
             PreparedStatement s = c.prepareStatement("ALTER USER " + settings.user() + " SET PASSWORD ?")) {
            s.setString(1, settings.password());
            s.execute();
            log.info("event=database-password-set file={} why=made-without-one", file);
        } catch (SQLException e) {
            throw new SQLException("the database " + file + " refuses both its password file and the empty password"
                    + " of BlockFerry 0.1: " + e.getMessage(), e);
        }
    }
}
