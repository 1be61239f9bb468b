package org.blockferry.nbd.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Finds the real programs the tests talk to and the scratch directory they work in. A missing
 * program fails the test with the command that installs it: tests never skip themselves.
 */
public final class TestPeers {
    private static final AtomicLong COUNTER = new AtomicLong();

    private TestPeers() {
    }

    /** The absolute path of {@code program}, or an error saying which Debian package provides it. */
    public static String require(String program, String debianPackage) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            Path candidate = Path.of(dir, program);
            if (Files.isExecutable(candidate)) {
                return candidate.toString();
            }
        }
        for (String dir : new String[] {"/usr/sbin", "/usr/bin", "/sbin"}) {
            Path candidate = Path.of(dir, program);
            if (Files.isExecutable(candidate)) {
                return candidate.toString();
            }
        }
        throw new AssertionError(program + " is needed by this test but not installed; install it with: "
                + "apt-get install -y " + debianPackage + " (or run scripts/test, which installs it)");
    }

    /**
     * A fresh directory under the build directory (BLOCKFERRY_TEST_TMP, set by Maven), short
     * enough for unix socket paths.
     */
    public static Path scratchDirectory(String prefix) {
        String base = System.getenv("BLOCKFERRY_TEST_TMP");
        Path root = base != null ? Path.of(base) : Path.of("target", "test-tmp").toAbsolutePath();
        try {
            Files.createDirectories(root);
            Path dir = root.resolve(prefix + ProcessHandle.current().pid() + "-" + COUNTER.incrementAndGet());
            Files.createDirectories(dir);
            return dir;
        } catch (IOException e) {
            throw new AssertionError("cannot create a scratch directory under " + root + ": " + e, e);
        }
    }

    /** Stops a peer: SIGTERM, then SIGKILL if it is still there after 10 s; waits for it to go. */
    public static void stop(Process process) {
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
    }
}
