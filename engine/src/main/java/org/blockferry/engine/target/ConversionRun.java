package org.blockferry.engine.target;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * One run of virt-v2v-in-place as a child process: its status messages to one file, its debug log
 * to another, bounded by a deadline, its whole process tree killed when it is passed. Optionally
 * watches the log for the appliance coming up, to give up early on an accelerator that hangs.
 */
final class ConversionRun {
    /** libguestfs's debug line once its appliance's daemon answers (printed with -v). */
    static final String APPLIANCE_UP = "appliance is up";
    private static final Duration POLL = Duration.ofMillis(500);

    /** How a run ended: its exit status, or why it was stopped. */
    enum Ending { EXITED, TIMED_OUT, LAUNCH_TIMED_OUT }

    record Result(Ending ending, int exitCode) {
        boolean succeeded() {
            return ending == Ending.EXITED && exitCode == 0;
        }
    }

    private ConversionRun() {
    }

    /**
     * Runs {@code command} with exactly {@code environment}, stdout to {@code messages} and stderr
     * to {@code log}; stops it at {@code deadline}, or when {@code launchTimeout} (if not null)
     * passes without {@link #APPLIANCE_UP} in the log.
     */
    static Result run(List<String> command, Map<String, String> environment, Path directory, Path messages, Path log,
            Instant deadline, Duration launchTimeout) throws IOException {
        ProcessBuilder builder = new ProcessBuilder(command).directory(directory.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                .redirectOutput(messages.toFile()).redirectError(log.toFile());
        builder.environment().clear();
        builder.environment().putAll(environment);
        Process process = builder.start();
        Instant launchDeadline = launchTimeout == null ? null : Instant.now().plus(launchTimeout);
        LogWatch watch = new LogWatch(log);
        try {
            while (true) {
                if (process.waitFor(POLL.toMillis(), TimeUnit.MILLISECONDS)) {
                    return new Result(Ending.EXITED, process.exitValue());
                }
                Instant now = Instant.now();
                if (!now.isBefore(deadline)) {
                    killTree(process);
                    return new Result(Ending.TIMED_OUT, -1);
                }
                if (launchDeadline != null) {
                    if (watch.contains(APPLIANCE_UP)) {
                        launchDeadline = null;
                    } else if (!now.isBefore(launchDeadline)) {
                        killTree(process);
                        return new Result(Ending.LAUNCH_TIMED_OUT, -1);
                    }
                }
            }
        } catch (InterruptedException e) {
            killTree(process);
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while converting; virt-v2v-in-place was killed", e);
        }
    }

    /**
     * Kills the child and everything it started (nbdkit, the appliance's qemu). The tree is read
     * before the child dies: once it is gone its children are re-parented and no longer found.
     */
    static void killTree(Process process) {
        List<ProcessHandle> tree = process.descendants().toList();
        process.destroyForcibly();
        tree.forEach(ProcessHandle::destroyForcibly);
        try {
            process.waitFor(10, TimeUnit.SECONDS);
            for (ProcessHandle h : tree) {
                h.onExit().get(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            // A grandchild that outlives SIGKILL for 5 s is stuck in the kernel; nothing more to do.
        }
    }

    /** Reads a growing log from where it last stopped, looking for one marker. */
    private static final class LogWatch {
        private final Path log;
        private long offset;
        private String carry = "";

        LogWatch(Path log) {
            this.log = log;
        }

        boolean contains(String marker) throws IOException {
            if (!Files.exists(log)) {
                return false;
            }
            try (RandomAccessFile f = new RandomAccessFile(log.toFile(), "r")) {
                long length = f.length();
                if (length <= offset) {
                    return false;
                }
                byte[] bytes = new byte[(int) Math.min(length - offset, 1 << 20)];
                f.seek(offset);
                f.readFully(bytes);
                offset += bytes.length;
                String text = carry + new String(bytes, StandardCharsets.ISO_8859_1);
                if (text.contains(marker)) {
                    return true;
                }
                carry = text.substring(Math.max(0, text.length() - marker.length()));
                return false;
            }
        }
    }
}
