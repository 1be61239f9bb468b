package org.blockferry.nbd.testing;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** A real qemu-nbd exporting an image on a private unix socket, for tests. */
public final class QemuNbdServer implements AutoCloseable {
    private final Process process;
    private final Path socket;
    private final Path log;

    private QemuNbdServer(Process process, Path socket, Path log) {
        this.process = process;
        this.socket = socket;
        this.log = log;
    }

    /** {@code qemu-nbd -k SOCKET -t [args...] IMAGE}: persistent, so clients may come and go. */
    public static QemuNbdServer start(Path dir, Path image, String... args) {
        Path socket = dir.resolve("qemu-" + System.nanoTime() % 100000 + ".sock");
        Path log = dir.resolve("qemu-nbd-" + System.nanoTime() + ".log");
        List<String> cmd = new ArrayList<>(List.of(TestPeers.require("qemu-nbd", "qemu-utils"),
                "-k", socket.toString(), "-t"));
        cmd.addAll(List.of(args));
        cmd.add(image.toString());
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            QemuNbdServer server = new QemuNbdServer(p, socket, log);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (System.nanoTime() < deadline) {
                if (!p.isAlive()) {
                    throw new AssertionError("qemu-nbd exited at start (" + cmd + "): " + Files.readString(log));
                }
                if (Files.exists(socket) && canConnect(socket)) {
                    return server;
                }
                Thread.sleep(20);
            }
            server.close();
            throw new AssertionError("qemu-nbd did not start within 20 s: " + cmd);
        } catch (IOException e) {
            throw new AssertionError("cannot start " + cmd + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    private static boolean canConnect(Path socket) {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    public String uri() {
        return "nbd+unix:///?socket=" + socket;
    }

    @Override
    public void close() {
        TestPeers.stop(process);
    }

    /** Runs a short command (qemu-img, qemu-io) and fails the test with its output if it fails. */
    public static String run(String... cmd) {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new AssertionError(String.join(" ", cmd) + " failed: " + out);
            }
            return out;
        } catch (IOException e) {
            throw new AssertionError("cannot run " + String.join(" ", cmd) + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
