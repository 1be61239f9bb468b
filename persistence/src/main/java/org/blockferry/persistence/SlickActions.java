package org.blockferry.persistence;

import scala.concurrent.Future;
import slick.dbio.DBIOAction;
import slick.jdbc.JdbcBackend;
import slick.jdbc.SimpleJdbcAction;

/** Running plain JDBC work on a pekko-persistence-jdbc DAO's Slick database, from Java. */
final class SlickActions {
    private SlickActions() {
    }

    /** Scala's action type is contravariant in its effect, which Java's generics cannot say. */
    @SuppressWarnings({"unchecked", "rawtypes"})
    static <R> Future<R> run(JdbcBackend.JdbcDatabaseDef db, SimpleJdbcAction<R> action) {
        return db.run((DBIOAction) action);
    }
}
