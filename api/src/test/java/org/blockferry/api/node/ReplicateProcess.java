package org.blockferry.api.node;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.blockferry.engine.job.JobDocument;
import org.blockferry.persistence.PersistenceSettings;
import org.blockferry.persistence.readside.JobQueries;

/** {@code blockferry replicate --job-file FILE} in its own JVM, on a test database, to be killed. */
final class ReplicateProcess {
    private ReplicateProcess() {
    }

    /** Starts the process; its output goes to {@code dir/log}. {@code settings}: extra -D keys. */
    static Process start(Path dir, PersistenceSettings db, Path jobFile, String log, Map<String, String> settings)
            throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx512m"));
        settings.forEach((k, v) -> cmd.add("-D" + k + "=" + v));
        if (db.backend() == PersistenceSettings.Backend.H2) {
            cmd.add("-Dblockferry.persistence.h2.file=" + dir.resolve("blockferry-db")); // the file the test reads
        }
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "org.blockferry.api.Main",
                "replicate", "--job-file", jobFile.toString()));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve(log).toFile());
        Map<String, String> env = pb.environment();
        env.put("BLOCKFERRY_DATA_DIR", dir.toString());
        if (db.backend() == PersistenceSettings.Backend.POSTGRES) {
            env.put("BLOCKFERRY_DB", "postgres");
            env.put("BLOCKFERRY_DB_URL", db.url());
            env.put("BLOCKFERRY_DB_USER", db.user());
        }
        return pb.start();
    }

    /**
     * Waits (up to 3 min) until the job's read-side row satisfies {@code midCopy}, failing with the
     * process's log if the process ends first: the moment to kill it.
     */
    static void awaitRow(JobQueries queries, String jobId, Process process, Path log, Predicate<JobDocument> midCopy)
            throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new AssertionError("replicate ended before the kill: " + Files.readString(log));
            }
            if (queries.get(jobId).filter(midCopy).isPresent()) {
                return;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("job " + jobId + " did not get mid-copy in time: " + Files.readString(log));
    }
}
