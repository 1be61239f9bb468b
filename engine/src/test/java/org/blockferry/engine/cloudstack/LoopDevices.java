package org.blockferry.engine.cloudstack;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Loop devices over the double's volume files: what a hypervisor's disk is to the appliance VM. Needs root. */
final class LoopDevices {
    private LoopDevices() {
    }

    /** Attaches a file to the first free loop device and returns the device, {@code /dev/loopN}. */
    static Path attach(Path file) throws IOException {
        return Path.of(run(List.of("losetup", "--find", "--show", file.toString())).trim());
    }

    static void detach(Path device) throws IOException {
        run(List.of("losetup", "-d", device.toString()));
    }

    /** Fails, saying why, where loop devices cannot be made (tests that need them fail rather than skip). */
    static void requireAvailable() {
        String why;
        try {
            run(List.of("losetup", "--version"));
            why = Path.of("/dev/loop-control").toFile().canWrite() ? null
                    : "/dev/loop-control is not writable (run the tests as root)";
        } catch (IOException e) {
            why = e.getMessage();
        }
        if (why != null) {
            throw new IllegalStateException("the CloudStack double attaches volumes as loop devices and cannot: " + why
                    + ". These tests need root and losetup (util-linux); they run as root here and in CI.");
        }
    }

    private static String run(List<String> command) throws IOException {
        Process p;
        try {
            p = new ProcessBuilder(command).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new IOException(command.get(0) + " cannot be run (" + e.getMessage() + "); install util-linux", e);
        }
        try {
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(String.join(" ", command) + " did not end within 30 s");
            }
            if (p.exitValue() != 0) {
                throw new IOException(String.join(" ", new ArrayList<>(command)) + " failed (exit " + p.exitValue()
                        + "): " + out.trim());
            }
            return out;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(String.join(" ", command) + " interrupted", e);
        }
    }
}
