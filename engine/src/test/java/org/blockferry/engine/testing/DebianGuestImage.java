package org.blockferry.engine.testing;

import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real Debian 12 guest as a VMware-made one looks before conversion (fstab on /dev/sda1, an
 * initramfs without virtio), built once by {@code debian12-guest.sh} with debootstrap and cached
 * under target/guest-cache keyed by the script's hash; and the independent readers tests check it
 * with: debugfs on its ext4 partition, lsinitramfs, and a boot under qemu's software emulation.
 */
public final class DebianGuestImage {
    /** Where the image's only partition (its root file system) starts: 1 MiB in. */
    public static final long ROOT_OFFSET = 1L << 20;
    private static final String SCRIPT = "debian12-guest.sh";
    private static final Duration BUILD_TIMEOUT = Duration.ofMinutes(20);

    private DebianGuestImage() {
    }

    /** The cached image (read-only by convention: tests convert a copy), built first if need be (~2 min). */
    public static Path cached() throws IOException {
        requirePrograms("the Debian guest image", "debootstrap", "debootstrap", "guestfish", "libguestfs-tools",
                "sfdisk", "fdisk", "mkfs.ext4", "e2fsprogs");
        byte[] script;
        try (InputStream in = DebianGuestImage.class.getResourceAsStream(SCRIPT)) {
            script = in.readAllBytes();
        }
        Path cache = Files.createDirectories(cacheDirectory());
        Path image = cache.resolve("debian12-" + sha256(script).substring(0, 12) + ".img");
        try (FileChannel lockFile = FileChannel.open(cache.resolve(".lock"), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE); FileLock lock = lockFile.lock()) {
            if (Files.exists(image) || awaitPrebuild(cache, image)) {
                return image;
            }
            if (!"root".equals(System.getProperty("user.name"))) {
                throw new AssertionError("building the Debian guest image needs root (debootstrap, chroot)");
            }
            try (Stream<Path> old = Files.list(cache)) {
                for (Path p : old.filter(p -> p.getFileName().toString().startsWith("debian12-")).toList()) {
                    Files.delete(p); // an image from another version of the script
                }
            }
            Path scriptFile = cache.resolve(SCRIPT);
            Files.write(scriptFile, script);
            Path buildLog = cache.resolve("build.log");
            run(BUILD_TIMEOUT, buildLog, "bash", scriptFile.toString(), image.toString(),
                    cache.resolve("work").toString());
            return image;
        }
    }

    /**
     * Waits while {@code scripts/guest-image}, started by scripts/test before Maven, still builds
     * the image (its process named in {@code prebuild.pid} is alive); true when it left the image.
     */
    private static boolean awaitPrebuild(Path cache, Path image) throws IOException {
        Path pidFile = cache.resolve("prebuild.pid");
        long deadline = System.nanoTime() + BUILD_TIMEOUT.toNanos();
        while (prebuilding(pidFile) && System.nanoTime() < deadline) {
            try {
                Thread.sleep(500);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while scripts/guest-image built the guest image", e);
            }
        }
        return Files.exists(image);
    }

    private static boolean prebuilding(Path pidFile) {
        try {
            long pid = Long.parseLong(Files.readString(pidFile).strip());
            return ProcessHandle.of(pid).filter(ProcessHandle::isAlive)
                    .flatMap(h -> h.info().commandLine()).filter(c -> c.contains("guest-image")).isPresent();
        } catch (IOException | NumberFormatException e) {
            return false; // gone (the build ended and removed it) or not written yet: not waiting
        }
    }

    /**
     * {@code target/guest-cache} of the build's root (the directory above the module with a
     * pom.xml), so that every module's tests share one image; the module's own without one.
     */
    private static Path cacheDirectory() {
        Path module = Path.of("").toAbsolutePath();
        Path parent = module.getParent();
        Path root = parent != null && Files.isRegularFile(parent.resolve("pom.xml"))
                && Files.isRegularFile(module.resolve("pom.xml")) ? parent : module;
        return root.resolve("target").resolve("guest-cache");
    }

    /** A sparse copy of {@code image} at {@code to}: tests convert copies, never the cache. */
    public static Path copy(Path image, Path to) throws IOException {
        run(Duration.ofMinutes(2), null, "cp", "--sparse=always", image.toString(), to.toString());
        return to;
    }

    /** A file of the ext4 file system at {@code offset} of {@code disk}, read by debugfs. */
    public static String readFile(Path disk, long offset, String path) throws IOException {
        return run(Duration.ofMinutes(1), null, "debugfs", "-R", "cat " + path, disk + "?offset=" + offset);
    }

    /** Replaces a file of the ext4 file system at {@code offset} of {@code disk}, by debugfs. */
    public static void writeFile(Path disk, long offset, String path, String content, Path scratch) throws IOException {
        Path local = Files.writeString(scratch, content);
        Path commands = Files.writeString(scratch.resolveSibling(scratch.getFileName() + ".cmd"),
                "rm " + path + "\nwrite " + local + " " + path + "\n");
        run(Duration.ofMinutes(1), null, "debugfs", "-w", "-f", commands.toString(), disk + "?offset=" + offset);
    }

    /** The names in a directory of the ext4 file system at {@code offset} of {@code disk}. */
    public static List<String> list(Path disk, long offset, String dir) throws IOException {
        List<String> names = new ArrayList<>();
        // ls -p: one "/inode/mode/uid/gid/name/size/" line per entry.
        for (String line : run(Duration.ofMinutes(1), null, "debugfs", "-R", "ls -p " + dir, disk + "?offset=" + offset)
                .split("\n")) {
            String[] f = line.split("/", -1);
            if (f.length >= 6 && !f[5].equals(".") && !f[5].equals("..")) {
                names.add(f[5]);
            }
        }
        return names;
    }

    /** The paths inside the guest's initramfs {@code name} (in /boot), by lsinitramfs on a copy. */
    public static List<String> initramfs(Path disk, long offset, String name, Path scratch) throws IOException {
        requirePrograms("reading an initramfs", "lsinitramfs", "initramfs-tools-core");
        Files.deleteIfExists(scratch);
        run(Duration.ofMinutes(1), null, "debugfs", "-R", "dump /boot/" + name + " " + scratch,
                disk + "?offset=" + offset);
        return List.of(run(Duration.ofMinutes(2), null, "lsinitramfs", scratch.toString()).split("\n"));
    }

    /**
     * Boots {@code disk} as the only, virtio, disk of a qemu VM under software emulation, its
     * serial console to {@code serialLog}, until a login prompt or {@code limit}; the VM is then
     * killed. Returns whether the prompt came.
     */
    public static boolean bootsToLoginPrompt(Path disk, Path serialLog, Duration limit) throws IOException {
        requirePrograms("booting the guest", "qemu-system-x86_64", "qemu-system-x86");
        Files.deleteIfExists(serialLog);
        Process qemu = new ProcessBuilder("qemu-system-x86_64", "-accel", "tcg", "-m", "512", "-display", "none",
                "-monitor", "none", "-no-reboot", "-drive", "file=" + disk + ",if=virtio,format=raw",
                "-serial", "file:" + serialLog).redirectErrorStream(true)
                .redirectOutput(serialLog.resolveSibling(serialLog.getFileName() + ".qemu").toFile()).start();
        try {
            Instant deadline = Instant.now().plus(limit);
            while (Instant.now().isBefore(deadline) && qemu.isAlive()) {
                if (Files.exists(serialLog) && Files.readString(serialLog, StandardCharsets.ISO_8859_1)
                        .contains("login:")) {
                    return true;
                }
                Thread.sleep(500);
            }
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } finally {
            qemu.destroyForcibly();
            try {
                qemu.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Fails (never skips) when a program is missing, naming the Debian package that has it. */
    public static void requirePrograms(String what, String... programAndPackage) {
        List<String> missing = new ArrayList<>();
        for (int i = 0; i < programAndPackage.length; i += 2) {
            if (!onPath(programAndPackage[i])) {
                missing.add(programAndPackage[i + 1]);
            }
        }
        if (!missing.isEmpty()) {
            throw new AssertionError(what + " needs Debian packages that are missing: apt-get install -y "
                    + String.join(" ", missing) + " (scripts/test --packages-only installs them)");
        }
    }

    private static boolean onPath(String program) {
        String path = System.getenv().getOrDefault("PATH", "") + ":/usr/sbin:/sbin";
        for (String dir : path.split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, program))) {
                return true;
            }
        }
        return false;
    }

    /**
     * Runs a command and returns its stdout. With {@code log}, stdout and stderr both go there (a
     * build); without, stderr is kept apart (debugfs prints its banner there) and put in the error.
     */
    private static String run(Duration limit, Path log, String... command) throws IOException {
        Path out = log != null ? log : Files.createTempFile("guest-image", ".out");
        Path err = log != null ? log : Files.createTempFile("guest-image", ".err");
        ProcessBuilder b = new ProcessBuilder(command).redirectOutput(out.toFile());
        if (log != null) {
            b.redirectErrorStream(true);
        } else {
            b.redirectError(err.toFile());
        }
        Process p = b.start();
        try {
            if (!p.waitFor(limit.toSeconds(), TimeUnit.SECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                throw new IOException(String.join(" ", command) + " did not finish within " + limit);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new IOException("interrupted", e);
        }
        String text = Files.readString(out, StandardCharsets.ISO_8859_1);
        String errors = Files.readString(err, StandardCharsets.ISO_8859_1);
        if (log == null) {
            Files.delete(out);
            Files.delete(err);
        }
        if (p.exitValue() != 0) {
            String tail = errors.length() > 4000 ? errors.substring(errors.length() - 4000) : errors;
            throw new IOException(String.join(" ", command) + " failed (exit " + p.exitValue() + "):\n" + tail);
        }
        return text;
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
