package org.blockferry.engine.endpoint;

import com.typesafe.config.Config;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
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

    /**
     * The programs and limits for local exports ({@code blockferry.local-export}), and the storage
     * policy every image exported with them must pass ({@link StoragePolicy#UNRESTRICTED} from the
     * configuration alone; a serving node's jobs get theirs with {@link #withStorage}).
     */
    public record Tools(String nbdkit, String qemuNbd, String qemuImg, Duration startTimeout, Path socketRoot,
                        StoragePolicy storage) {
        public static Tools fromConfig(Config config) {
            Config c = config.getConfig("blockferry.local-export");
            return new Tools(c.getString("nbdkit"), c.getString("qemu-nbd"), c.getString("qemu-img"),
                    c.getDuration("start-timeout"), Path.of(System.getProperty("java.io.tmpdir")),
                    StoragePolicy.UNRESTRICTED);
        }

        public Tools withSocketRoot(Path root) {
            return new Tools(nbdkit, qemuNbd, qemuImg, startTimeout, root, storage);
        }

        public Tools withStorage(StoragePolicy policy) {
            return new Tools(nbdkit, qemuNbd, qemuImg, startTimeout, socketRoot, policy);
        }
    }

    private final Path dir;
    private final Path socket;
    private final Process process;
    private final NbdConnection keepAlive;
    private final Opened opened;

    private LocalExport(Path dir, Path socket, Process process, NbdConnection keepAlive, Opened opened) {
        this.dir = dir;
        this.socket = socket;
        this.process = process;
        this.keepAlive = keepAlive;
        this.opened = opened;
    }

    /** What the server must hold open, verified after it starts and after every connection; null: nothing. */
    private record Opened(String field, StoragePolicy policy, StoragePolicy.Checked checked, Set<Object> log) {
    }

    /**
     * Exports {@code image} (which must exist), checked by the tools' storage policy first.
     * {@code field} names the operator's input in error messages.
     */
    public static LocalExport start(String field, Path image, boolean writable, Tools tools) throws IOException {
        StoragePolicy.Access access = writable ? StoragePolicy.Access.WRITE : StoragePolicy.Access.READ;
        return startChecked(field, checkImage(field, image, access, tools), writable, List.of(), tools);
    }

    /**
     * Checks {@code image} with the tools' storage policy: the path, and for a qcow2 image every
     * file of its backing chain (each before anything opens it). Restricted, a missing image is
     * refused here; unrestricted, the export says so.
     */
    public static StoragePolicy.Checked checkImage(String field, Path image, StoragePolicy.Access access, Tools tools)
            throws IOException {
        return checkImageWithInfo(field, image, access, tools).checked();
    }

    /**
     * An image that passed {@link #checkImage}, with what {@code qemu-img info --force-share
     * --output=json -f qcow2} said of it while its chain was walked ({@code null} when no walk was
     * needed: not a qcow2 file, or an unrestricted policy), so that its caller need not ask again.
     */
    public record CheckedImage(StoragePolicy.Checked checked, String qemuImgInfo) {
    }

    /** {@link #checkImage}, keeping what the chain's walk learned of the image itself. */
    public static CheckedImage checkImageWithInfo(String field, Path image, StoragePolicy.Access access, Tools tools)
            throws IOException {
        StoragePolicy policy = tools.storage();
        StoragePolicy.Checked checked = policy.checkPath(field, image, access);
        if (checked.kind() == StoragePolicy.Checked.Kind.ABSENT && policy.restricted()) {
            throw new InvalidInputException(field, image + " does not exist");
        }
        if (checked.kind() == StoragePolicy.Checked.Kind.FILE && format(checked) == ImageFormat.QCOW2) {
            BackingChain.Walked chain = BackingChain.check(policy, field, checked, tools.qemuImg());
            return new CheckedImage(checked.withOpenable(chain.openable()), chain.imageInfo());
        }
        return new CheckedImage(checked, null);
    }

    /**
     * Exports what {@link #checkImage} (or {@link SparseImage#create}) allowed. When the check is
     * verifiable (a restricted policy), the server's open files are compared with it once it is up
     * and after every connection made with {@link #guard}ed options: a file swapped between the
     * check and the server's open stops the export and fails naming {@code field}.
     */
    public static LocalExport startChecked(String field, StoragePolicy.Checked checked, boolean writable,
                                           List<String> bitmaps, Tools tools) throws IOException {
        Path image = checked.path();
        if (!Files.exists(image)) {
            throw new InvalidInputException(field, checked.requested() + " does not exist");
        }
        if (Files.isDirectory(image)) {
            throw new InvalidInputException(field, checked.requested() + " is a directory, not a disk image");
        }
        if (!Files.isReadable(image)) {
            throw new InvalidInputException(field, checked.requested() + " is not readable by this user");
        }
        if (writable && !Files.isWritable(image)) {
            throw new InvalidInputException(field, checked.requested() + " is not writable by this user");
        }
        ImageFormat format = format(checked);
        if (!bitmaps.isEmpty() && format != ImageFormat.QCOW2) {
            throw new InvalidInputException(field, checked.requested() + " is not a qcow2 image (dirty bitmaps need"
                    + " qcow2)");
        }
        ServerCommand command = (dir, socket) -> format == ImageFormat.QCOW2
                ? qemuNbdCommand(tools, socket, image, writable, bitmaps)
                : nbdkitCommand(tools, socket, image, writable);
        // qemu-nbd exits when its last client leaves: the export holds one connection until close
        return launch(field, checked.requested().toString(), command,
                format == ImageFormat.QCOW2 ? "qemu-utils" : "nbdkit", true, tools,
                checked.verifiable() ? checked : null);
    }

    /**
     * Exports a checked block device as raw, whatever its first bytes look like (a guest's disk
     * may hold anything, a qcow2 header included): through nbdkit's file plugin.
     */
    public static LocalExport startRawDevice(String field, StoragePolicy.Checked checked, boolean writable,
                                             Tools tools) throws IOException {
        if (checked.kind() != StoragePolicy.Checked.Kind.DEVICE) {
            throw new IllegalArgumentException("not a checked device: " + checked.requested());
        }
        Path device = checked.path();
        return launch(field, checked.requested().toString(),
                (dir, socket) -> nbdkitCommand(tools, socket, device, writable), "nbdkit", true, tools,
                checked.verifiable() ? checked : null);
    }

    /** A checked real path is read without following a symlink it may have become since. */
    private static ImageFormat format(StoragePolicy.Checked checked) throws IOException {
        return checked.verifiable() ? ImageFormat.detect(checked.path(), LinkOption.NOFOLLOW_LINKS)
                : ImageFormat.detect(checked.path());
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
        return launch(field, what, command, installHint, false, tools, null);
    }

    private static LocalExport launch(String field, String what, ServerCommand command, String installHint,
                                      boolean holdConnection, Tools tools, StoragePolicy.Checked checked)
            throws IOException {
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
            process = spawn(ChildEnvironment.minimal(new ProcessBuilder(cmd)).redirectErrorStream(true)
                    .redirectOutput(log.toFile()));
        } catch (IOException e) {
            deleteTree(dir);
            throw new IOException("cannot run " + cmd.get(0) + " to export " + what + ": " + e.getMessage()
                    + " (install it with: apt-get install " + installHint + ")", e);
        }
        String uri = "nbd+unix:///?socket=" + socket;
        try {
            NbdConnection probe = awaitServer(field, process, uri, socket, log, tools.startTimeout(), what);
            Opened opened = null;
            if (checked != null) {
                opened = new Opened(field, tools.storage(), checked, Set.of(Files.readAttributes(log,
                        BasicFileAttributes.class).fileKey()));
                try {
                    verify(opened, process);
                } catch (RuntimeException e) {
                    probe.close();
                    throw e;
                }
            }
            if (!holdConnection) {
                probe.close();
                probe = null;
            }
            return new LocalExport(dir, socket, process, probe, opened);
        } catch (IOException | RuntimeException e) {
            process.destroyForcibly();
            deleteTree(dir);
            throw e;
        }
    }

    /** The server holds only what was checked, or it is killed (no later request reaches it) and this throws. */
    private static void verify(Opened opened, Process process) {
        try {
            opened.policy().verifyOpened(opened.field(), process.pid(), opened.checked(), opened.log());
        } catch (RuntimeException e) {
            process.destroyForcibly();
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
        long started = System.nanoTime();
        long deadline = started + timeout.toNanos();
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
                // nbdkit is up in ~10-15 ms, qemu-nbd in ~20-25: look every millisecond at first
                // (every sync starts one or two of them), every 10 ms once it takes longer
                Thread.sleep(System.nanoTime() - started < 60_000_000L ? 1 : 10);
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

    /**
     * {@code options} for connections to this export: when its image was checked by a restricted
     * policy, every connection verifies, once connected and before it is used, that the server
     * (which may open the image again for each connection) still holds only the checked files.
     */
    public NbdOptions guard(NbdOptions options) {
        return opened == null ? options : options.withConnectCheck(() -> verify(opened, process));
    }

    /** The server's process id (what {@code /proc} knows it by). */
    public long pid() {
        return process.pid();
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
