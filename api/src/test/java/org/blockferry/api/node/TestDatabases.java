package org.blockferry.api.node;

import java.nio.file.Path;
import org.blockferry.persistence.PersistenceSettings;
import org.blockferry.persistence.ScratchDatabases;

/**
 * The two databases the job tests run on: an H2 file in the test's scratch directory, and a fresh
 * schema of the PostgreSQL server at 127.0.0.1:5432 per use ({@link ScratchDatabases}: dropped
 * when the test JVM exits, when its nodes, in process or not, are closed).
 */
public final class TestDatabases {
    public enum Kind { H2, POSTGRES }

    private TestDatabases() {
    }

    public static PersistenceSettings create(Kind kind, Path dir) {
        if (kind == Kind.H2) {
            return PersistenceSettings.h2(dir.resolve("blockferry-db"), 4);
        }
        return ScratchDatabases.postgres("api", 4);
    }
}
