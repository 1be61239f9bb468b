package org.blockferry.engine.endpoint;

import com.typesafe.config.Config;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.blockferry.nbd.NbdConnection;
import org.blockferry.nbd.NbdException;
import org.blockferry.nbd.NbdOptions;

/**
 * A local image exported over NBD by BlockFerry itself, on a private unix socket that lives
 * as long as this object: raw files through {@code nbdkit file}, qcow2 through {@code qemu-nbd}.
 *
 * <p>Neither server outlives the JVM: nbdkit runs with {@code --exit-with-parent}; qemu-nbd
 * exits when its last client leaves, and this object keeps one connection to a local image's
 * export open until close.
 */
public final class LocalExport implements AutoCloseable {

    /** The programs and limits for local exports ({@code blockferry.local-export}). */
    public record Tools(String nbdkit, String qemuNbd, String qemuImg, Duration startTimeout, Path socketRoot) {
        public static Tools fromConfig(Config config) {
            Config c = config.getConfig("blockferry.local-export");
            return new Tools(c.getString("nbdkit"), c.getString("qemu-nbd"), c.getString("qemu-img"),
                    c.getDuration("start-timeout"), Path.of(System.getProperty("java.io.tmpdir")));
        }

        public Tools withSocketRoot(Path root) {
            return new Tools(nbdkit, qemuNbd, qemuImg, startTimeout, root);
        }
    }

    private final Path dir;
    private final Path socket;
    private final Process process;
    private final NbdConnection keepAlive;

    private LocalExport(Path dir, Path socket, Process process,
                        NbdConnection keepAlive) {
        this.dir = dir;
        this.socket = socket;
        this.process = process;
        this.keepAlive = keepAlive;
    }

    /**
     * Exports {@code image} (which must exist). {@code field} names the operator's input in
     * error messages.
     */
    public static LocalExport start(String field, Path image, boolean writable, Tools tools) throws IOException {
        return start(field, image, writable, List.of(), tools);
    }

    /**
     * Exports a qcow2 {@code image} read-only with its persistent dirty {@code bitmaps} offered as
     * {@code qemu:dirty-bitmap:NAME} meta contexts (qemu-nbd {@code -B}).
     */
    public static LocalExport startWithBitmaps(String field, Path image, List<String> bitmaps, Tools tools)
            throws IOException {
        return start(field, image, false, bitmaps, tools);
    }

    private static LocalExport start(String field, Path image, boolean writable, List<String> bitmaps, Tools tools)
            throws IOException {
        if (!Files.exists(image)) {
            throw new InvalidInputException(field, image + " does not exist");
        }
        if (Files.isDirectory(image)) {
            throw new InvalidInputException(field, image + " is a directory, not a disk image");
        }
        if (!Files.isReadable(image)) {
            throw new InvalidInputException(field, image + " is not readable by this user");
        }
        if (writable && !Files.isWritable(image)) {
            throw new InvalidInputException(field, image + " is not writable by this user");
        }
        ImageFormat format = ImageFormat.detect(image);
        if (!bitmaps.isEmpty() && format != ImageFormat.QCOW2) {
            throw new InvalidInputException(field, image + " is not a qcow2 image (dirty bitmaps need qcow2)");
        }
        ServerCommand command = (dir, socket) -> format == ImageFormat.QCOW2
                ? qemuNbdCommand(tools, socket, image, writable, bitmaps)
                : nbdkitCommand(tools, socket, image, writable);
        // qemu-nbd exits when its last client leaves: the export holds one connection until close
        return launch(field, image.toString(), command, format == ImageFormat.QCOW2 ? "qemu-utils" : "nbdkit",
                true, tools);
    }

    /** The command of an NBD server that serves one export on {@code socket}. */
    @FunctionalInterface
    public interface ServerCommand {
        /**
         * @param dir    the export's private directory (mode 0700, removed at close): room for
         *               files the server reads at start, such as a password file
         * @param socket the Unix socket to serve on, inside {@code dir}
         */
        List<String> argv(Path dir, Path socket) throws IOException;
    }

    /**
     * Starts an NBD server of the caller's making ({@code nbdkit vddk}, for one) with a local
     * image's lifetime and care: a private socket directory, the start wait, its last log lines
     * in errors, stopped and removed at close. {@code what} names the export in messages,
     * {@code installHint} the Debian package of the program.
     */
    public static LocalExport serve(String field, String what, ServerCommand command, String installHint, Tools tools)
            throws IOException {
        // no idle connection: for nbdkit vddk it would be a second VDDK session (with hotadd, a
        // second open of the disk) for nothing; nbdkit lives until close without a client
        return launch(field, what, command, installHint, false, tools);
    }

    private static LocalExport launch(String field, String what, ServerCommand command, String installHint,
                                      boolean holdConnection, Tools tools) throws IOException {
        Files.createDirectories(tools.socketRoot());
        Path dir = Files.createTempDirectory(tools.socketRoot(), "bf-",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Path socket = dir.resolve("nbd.sock");
        Path log = dir.resolve("server.log");
        Process process;
        List<String> cmd;
        try {
            cmd = command.argv(dir, socket);
        } catch (IOException | RuntimeException e) {
            deleteTree(dir);
            throw e;
        }
        try {
            process = spawn(new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()));
        } catch (IOException e) {
            deleteTree(dir);
            throw new IOException("cannot run " + cmd.get(0) + " to export " + what + ": " + e.getMessage()
                    + " (install it with: apt-get install " + installHint + ")", e);
        }
        String uri = "nbd+unix:///?socket=" + socket;
        try {
            NbdConnection probe = awaitServer(field, process, uri, socket, log, tools.startTimeout(), what);
            if (!holdConnection) {
                probe.close();
                probe = null;
            }
            return new LocalExport(dir, socket, process, probe);
        } catch (IOException | RuntimeException e) {
            process.destroyForcibly();
            deleteTree(dir);
            throw e;
        }
    }

    /**
     * nbdkit's {@code --exit-with-parent} is Linux's parent-death signal, which fires when the
     * <em>thread</em> that started the server ends, not the process. Pool threads end when idle
     * (and would take a running export with them), so every server is started from this one
     * thread, which lives as long as the JVM.
     */
    private static final java.util.concurrent.ExecutorService SPAWNER =
            java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
                Thread t = new Thread(r, "local-export-spawner");
                t.setDaemon(true);
                return t;
            });

    private static Process spawn(ProcessBuilder builder) throws IOException {
        try {
            return SPAWNER.submit(builder::start).get();
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            throw new IOException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while starting " + builder.command().get(0), e);
        }
    }

    private static List<String> nbdkitCommand(Tools tools, Path socket, Path image, boolean writable) {
        List<String> cmd = new ArrayList<>(List.of(tools.nbdkit(), "-f", "--exit-with-parent", "-U",
                socket.toString()));
        if (!writable) {
            cmd.add("-r");
        }
        cmd.add("file");
        cmd.add("file=" + image);
        return cmd;
    }

    private static List<String> qemuNbdCommand(Tools tools, Path socket, Path image, boolean writable,
                                               List<String> bitmaps) {
        List<String> cmd = new ArrayList<>(List.of(tools.qemuNbd(), "-f", "qcow2", "-k", socket.toString(),
                "-e", "16", "--cache=writeback"));
        for (String bitmap : bitmaps) {
            cmd.add("-B");
            cmd.add(bitmap);
        }
        if (writable) {
            cmd.add("--discard=unmap");
        } else {
            cmd.add("-r");
        }
        cmd.add(image.toString());
        return cmd;
    }

    private static NbdConnection awaitServer(String field, Process process, String uri, Path socket, Path log,
                                             Duration timeout, String image) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        NbdException last = null;
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new InvalidInputException(field, "cannot export " + image + ": " + lastLines(log));
            }
            if (Files.exists(socket)) {
                try {
                    long left = Math.max(1, deadline - System.nanoTime());
                    return NbdConnection.open(uri, NbdOptions.DEFAULT.withHandleName("keepalive")
                            .withConnectTimeout(Duration.ofNanos(left)));
                } catch (NbdException e) {
                    last = e;
                    String said = lastLines(log);
                    if (said.contains("error:")) { // up, but its plugin refuses clients (cannot open the disk)
                        throw new InvalidInputException(field, "cannot export " + image + ": " + said);
                    }
                }
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while exporting " + image, e);
            }
        }
        throw new IOException("the NBD server for " + image + " did not start within " + timeout.toSeconds()
                + " s" + (last != null ? " (" + last.getMessage() + ")" : "") + ": " + lastLines(log));
    }

    private static String lastLines(Path log) {
        try {
            List<String> lines = Files.exists(log) ? Files.readAllLines(log) : List.of();
            List<String> tail = lines.subList(Math.max(0, lines.size() - 3), lines.size());
            String text = String.join(" / ", tail).trim();
            return text.isEmpty() ? "the server exited without a message" : text;
        } catch (IOException e) {
            return "the server exited (its log is unreadable: " + e.getMessage() + ")";
        }
    }

    /** {@code nbd+unix:///?socket=...} of the private socket. */
    public String uri() {
        return "nbd+unix:///?socket=" + socket;
    }

    /** Stops the server and removes the private socket directory. */
    @Override
    public void close() {
        if (keepAlive != null) {
            keepAlive.close();
        }
        process.destroy();
        try {
            if (!process.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, java.util.concurrent.TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
        deleteTree(dir);
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // a leftover empty directory in the temp dir harms nothing
        }
    }
}
