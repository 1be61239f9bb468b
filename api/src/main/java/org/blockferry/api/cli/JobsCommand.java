package org.blockferry.api.cli;

import com.typesafe.config.ConfigFactory;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.job.JobDocument;
import org.blockferry.persistence.Database;
import org.blockferry.persistence.PersistenceSettings;
import org.blockferry.persistence.readside.JobQueries;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine;

/** {@code blockferry jobs} and {@code blockferry job ID}: read the read side, never the actors. */
final class JobsCommand {
    private JobsCommand() {
    }

    static final List<String> STATUSES = List.of("queued", "running", "cancelling", "completed", "failed", "cancelled");

    @Command(name = "jobs", mixinStandardHelpOptions = true, description = {"Lists jobs, newest first."})
    static final class ListJobs implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Option(names = "--status", paramLabel = "STATUS", description = "only jobs in this status")
        String status;

        @Option(names = "--limit", paramLabel = "N", defaultValue = "50", description = "at most N jobs (default 50)")
        int limit;

        @Option(names = "--json", description = "one JSON object: {\"jobs\": [...]}")
        boolean json;

        @Override
        public Integer call() throws Exception {
            if (status != null && !STATUSES.contains(status)) {
                throw new InvalidInputException("--status", "'" + status + "' is not a status (" + String.join(", ",
                        STATUSES) + ")");
            }
            if (limit < 1 || limit > 10_000) {
                throw new InvalidInputException("--limit", "must be 1..10000, got " + limit);
            }
            try (Database db = openDatabase()) {
                List<JobDocument> rows = queries(db).list(status, limit, 0);
                PrintWriter out = spec.commandLine().getOut();
                if (json) {
                    List<Object> list = new ArrayList<>();
                    rows.forEach(r -> list.add(JobViews.json(r)));
                    out.println(JsonLine.of(Map.of("jobs", list)));
                } else {
                    JobViews.printTable(out, rows);
                }
            }
            return Cli.OK;
        }
    }

    @Command(name = "job", mixinStandardHelpOptions = true, description = {"Shows one job and its disks."})
    static final class ShowJob implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Parameters(index = "0", paramLabel = "ID", description = "the job id")
        String jobId;

        @Option(names = "--json", description = "one JSON object")
        boolean json;

        @Override
        public Integer call() throws Exception {
            try (Database db = openDatabase()) {
                JobDocument row = queries(db).get(jobId).orElseThrow(() -> new InvalidInputException("ID",
                        "no job '" + jobId + "'"));
                PrintWriter out = spec.commandLine().getOut();
                if (json) {
                    out.println(JsonLine.of(JobViews.json(row)));
                } else {
                    JobViews.printJob(out, row);
                }
            }
            return Cli.OK;
        }
    }

    static Database openDatabase() throws java.sql.SQLException {
        Database db = Database.open(PersistenceSettings.fromConfig(ConfigFactory.load()));
        db.applySchema();
        return db;
    }

    static JobQueries queries(Database db) {
        return new JobQueries(db.dataSource(), db.settings().backend());
    }
}
