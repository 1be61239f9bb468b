package org.blockferry.api.node;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.blockferry.persistence.PersistenceSettings;

/**
 * A {@code blockferry serve} node in its own JVM, as an operator runs one: on a test database,
 * its output in a log file, to be stopped, killed or paused by the test.
 */
public final class NodeProcess implements AutoCloseable {
    private static final Pattern SERVING = Pattern.compile("serving on (http://[0-9.]+:[0-9]+)");
    private final Process process;
    private final Path log;

    private NodeProcess(Process process, Path log) {
        this.process = process;
        this.log = log;
    }

    /**
     * Starts {@code blockferry serve --port 0} with {@code settings} as -D keys; its output goes to
     * {@code dir/name.log}. With {@code logbackFile}, logging is configured by that file.
     */
    public static NodeProcess start(Path dir, String name, PersistenceSettings db, Map<String, String> settings,
                                    Path logbackFile) throws IOException {
        return start(dir, name, db, settings, logbackFile, List.of());
    }

    /** As {@link #start(Path, String, PersistenceSettings, Map, Path)}, with more JVM options. */
    public static NodeProcess start(Path dir, String name, PersistenceSettings db, Map<String, String> settings,
                                    Path logbackFile, List<String> jvmOptions) throws IOException {
        // SIGINT as an operator's shell leaves it: a build started in the background (a CI runner,
        // `cmd &`) ignores SIGINT, its children inherit that, and a JVM cannot take back an ignored
        // signal — ServeStopTest's Ctrl-C would never arrive (env execs java: same pid).
        List<String> cmd = new ArrayList<>(List.of("env", "--default-signal=INT",
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx384m", "-XX:+UseSerialGC"));
        cmd.addAll(jvmOptions);
        settings.forEach((k, v) -> cmd.add("-D" + k + "=" + v));
        if (logbackFile != null) {
            cmd.add("-Dlogback.configurationFile=" + logbackFile);
        }
        if (db.backend() == PersistenceSettings.Backend.H2) {
            cmd.add("-Dblockferry.persistence.h2.file=" + dir.resolve("blockferry-db"));
        }
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "org.blockferry.api.Main", "serve",
                "--port", "0"));
        Path log = dir.resolve(name + ".log");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        Map<String, String> env = pb.environment();
        env.put("BLOCKFERRY_DATA_DIR", dir.resolve(name).toString());
        if (db.backend() == PersistenceSettings.Backend.POSTGRES) {
            env.put("BLOCKFERRY_DB", "postgres");
            env.put("BLOCKFERRY_DB_URL", db.url());
            env.put("BLOCKFERRY_DB_USER", db.user());
        }
        return new NodeProcess(pb.start(), log);
    }

    public Process process() {
        return process;
    }

    public String log() {
        try {
            return Files.exists(log) ? Files.readString(log) : "";
        } catch (IOException e) {
            return "(cannot read " + log + ": " + e + ")";
        }
    }

    /** Waits until the log contains {@code text}; false after {@code timeout}, or at once if the process ended. */
    public boolean awaitLog(String text, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (log().contains(text)) {
                return true;
            }
            if (!process.isAlive()) {
                return log().contains(text);
            }
            Thread.sleep(100);
        }
        return false;
    }

    /** The node's HTTP base URL ({@code http://127.0.0.1:PORT}) once its log says it serves; null before. */
    public String url() {
        Matcher m = SERVING.matcher(log());
        return m.find() ? m.group(1) : null;
    }

    /** Waits up to {@code timeout} for the node to serve and returns its base URL; fails the test otherwise. */
    public String awaitUrl(Duration timeout) throws InterruptedException {
        if (!awaitLog("serving on", timeout) || url() == null) {
            throw new AssertionError("no 'serving on' line within " + timeout + ":\n" + log());
        }
        return url();
    }

    /** SIGSTOP: the process freezes (as in a long GC pause or a VM freeze). */
    public void pause() throws IOException, InterruptedException {
        signal("STOP");
    }

    /** SIGCONT: a paused process goes on. */
    public void resume() throws IOException, InterruptedException {
        signal("CONT");
    }

    private void signal(String name) throws IOException, InterruptedException {
        Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(process.pid())).inheritIO().start();
        if (kill.waitFor() != 0) {
            throw new IOException("kill -" + name + " " + process.pid() + " failed");
        }
    }

    /** SIGKILL, then waits for the end. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }

    /** SIGTERM (a graceful stop), and waits up to {@code timeout}. */
    public boolean stop(Duration timeout) throws InterruptedException {
        process.destroy();
        return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            try {
                resume(); // a paused process cannot stop
            } catch (IOException e) {
                // gone meanwhile
            }
        }
        if (process.isAlive() && !stop(Duration.ofSeconds(20))) {
            kill();
        }
    }
}
