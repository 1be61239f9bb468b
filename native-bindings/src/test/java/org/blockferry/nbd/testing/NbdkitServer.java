package org.blockferry.nbd.testing;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real nbdkit server for a test, on a private unix socket (or a free TCP port), killed on
 * {@link #close()} and with the test JVM ({@code --exit-with-parent}).
 */
public final class NbdkitServer implements AutoCloseable {
    private Process process;
    private final Path socket;
    private final int port;
    private final Path log;
    private final Path pidFile;
    private final List<String> command;

    private NbdkitServer(Process process, Path socket, int port, Path log, Path pidFile, List<String> command) {
        this.process = process;
        this.socket = socket;
        this.port = port;
        this.log = log;
        this.pidFile = pidFile;
        this.command = command;
    }

    /** Starts {@code nbdkit [nbdkitArgs...]} on a unix socket in {@code dir}; args are plugin, filters, params. */
    public static NbdkitServer start(Path dir, String... nbdkitArgs) {
        return startWithEnv(dir, java.util.Map.of(), nbdkitArgs);
    }

    /** {@link #start(Path, String...)} with extra environment variables for nbdkit. */
    public static NbdkitServer startWithEnv(Path dir, java.util.Map<String, String> env, String... nbdkitArgs) {
        Path socket = dir.resolve("nbdkit-" + System.nanoTime() % 100000 + ".sock");
        if (socket.toString().length() > 100) {
            throw new AssertionError("unix socket path too long for the kernel: " + socket);
        }
        List<String> cmd = new ArrayList<>();
        if (!env.isEmpty()) {
            cmd.add("/usr/bin/env");
            env.forEach((k, v) -> cmd.add(k + "=" + v));
        }
        Path pidFile = pidFile(dir);
        cmd.addAll(List.of(TestPeers.require("nbdkit", "nbdkit"), "-f", "--exit-with-parent", "-P", pidFile.toString(),
                "-U", socket.toString()));
        cmd.addAll(List.of(nbdkitArgs));
        return launch(cmd, dir, socket, 0, pidFile);
    }

    /** Starts nbdkit listening on 127.0.0.1 on a free TCP port. */
    public static NbdkitServer startTcp(Path dir, String... nbdkitArgs) {
        int port = freePort();
        Path pidFile = pidFile(dir);
        List<String> cmd = new ArrayList<>(List.of(TestPeers.require("nbdkit", "nbdkit"), "-f",
                "--exit-with-parent", "-P", pidFile.toString(), "-i", "127.0.0.1", "-p", Integer.toString(port)));
        cmd.addAll(List.of(nbdkitArgs));
        return launch(cmd, dir, null, port, pidFile);
    }

    private static Path pidFile(Path dir) {
        return dir.resolve("nbdkit-" + System.nanoTime() + ".pid");
    }

    private static NbdkitServer launch(List<String> cmd, Path dir, Path socket, int port, Path pidFile) {
        Path log = dir.resolve("nbdkit-" + System.nanoTime() + ".log");
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            NbdkitServer server = new NbdkitServer(p, socket, port, log, pidFile, List.copyOf(cmd));
            server.awaitReady(cmd);
            return server;
        } catch (IOException e) {
            throw new AssertionError("cannot start " + cmd + ": " + e, e);
        }
    }

    private void awaitReady(List<String> cmd) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new AssertionError("nbdkit exited at start (" + cmd + "): " + logText());
            }
            if (listening()) {
                return;
            }
            sleep(20);
        }
        close();
        throw new AssertionError("nbdkit did not start listening within 20 s: " + cmd + ": " + logText());
    }

    /**
     * nbdkit writes its pid file once it accepts connections (nbdkit(1), {@code -P}). No probe
     * connection: a server behind {@code --filter=limit} would count a probe against its limit
     * until its connection thread ends, and refuse a test's own connection meanwhile.
     */
    private boolean listening() {
        try {
            return Files.size(pidFile) > 0;
        } catch (IOException notYet) {
            return false;
        }
    }

    /**
     * Starts the server again, same command and socket, if it has died (nbdkit 1.32 can abort
     * when a client vanishes with requests in flight). Returns whether it had to.
     */
    public synchronized boolean restartIfDead() {
        if (process.isAlive()) {
            return false;
        }
        try {
            if (socket != null) {
                Files.deleteIfExists(socket);
            }
            Files.deleteIfExists(pidFile);
            process = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        } catch (IOException e) {
            throw new AssertionError("cannot restart " + command + ": " + e, e);
        }
        awaitReady(command);
        return true;
    }

    /** {@code nbd+unix:///?socket=...} or {@code nbd://127.0.0.1:PORT}. */
    public String uri() {
        return socket != null ? "nbd+unix:///?socket=" + socket : "nbd://127.0.0.1:" + port;
    }

    public Path socket() {
        return socket;
    }

    public int port() {
        return port;
    }

    public String logText() {
        try {
            return Files.exists(log) ? Files.readString(log) : "";
        } catch (IOException e) {
            return "(log unreadable: " + e + ")";
        }
    }

    public synchronized boolean isAlive() {
        return process.isAlive();
    }

    /**
     * Whether the server is alive and serves no client: between connections nbdkit runs only its
     * accept loop, one thread; each connection adds its own (read from /proc, so Linux only).
     */
    public synchronized boolean idle() {
        if (!process.isAlive()) {
            return false;
        }
        try {
            List<String> status = Files.readAllLines(Path.of("/proc", Long.toString(process.pid()), "status"));
            return status.contains("Threads:\t1") && status.stream().noneMatch(l -> l.startsWith("State:\tZ")
                    || l.startsWith("State:\tX"));
        } catch (IOException gone) {
            return false; // it ended in between
        }
    }

    /** Kills the server abruptly (SIGKILL), as a crash would. */
    public void kill() {
        process.destroyForcibly();
        stopped();
    }

    @Override
    public void close() {
        stopped();
    }

    /** Stops the server (already killed, or now) and removes its socket. */
    private void stopped() {
        TestPeers.stop(process);
        if (socket != null) {
            try {
                Files.deleteIfExists(socket);
            } catch (IOException ignored) {
                // the scratch directory goes with the build directory
            }
        }
    }

    public static int freePort() {
        try (ServerSocket s = new ServerSocket(0)) {
            s.setReuseAddress(true);
            return s.getLocalPort();
        } catch (IOException e) {
            throw new AssertionError("no free TCP port: " + e, e);
        }
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }
}
