package org.blockferry.engine.endpoint;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Set;

/**
 * What a child process really opened, read from {@code /proc/PID/fd}: the second half of a
 * check-then-open. Our check and the server's {@code open} of the same name are two steps, and
 * nbdkit's file plugin even opens the file again for every connection; whatever the name leads
 * to by then is what the server serves. So after the server is up, and after every connection to
 * it, its descriptors are compared with the file that was checked (device and inode) and their
 * paths with the allowed roots.
 */
final class OpenedFiles {
    private static final String DELETED = " (deleted)";

    private OpenedFiles() {
    }

    static void verify(StoragePolicy policy, String field, long pid, StoragePolicy.Checked checked,
                       Set<Object> ignored) {
        Path fds = Path.of("/proc", Long.toString(pid), "fd");
        boolean holdsChecked = false;
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(fds)) {
            for (Path fd : entries) {
                BasicFileAttributes a;
                try {
                    a = Files.readAttributes(fd, BasicFileAttributes.class); // follows the link: the open file
                } catch (IOException closedMeanwhile) {
                    continue;
                }
                boolean device = !a.isRegularFile() && StoragePolicy.isBlockDevice(fd);
                if (!a.isRegularFile() && !device || ignored.contains(a.fileKey())) {
                    continue; // sockets, pipes, /dev/null, its log
                }
                if (!device && isKernelInterface(fd)) {
                    continue; // /proc, /sys: nbdkit reads e.g. /sys/devices/system/cpu/online for a moment
                }
                if (!checked.openable().contains(a.fileKey())) {
                    throw refused(field, checked, "it holds another file open");
                }
                if (!device && !policy.allowsOpenedFile(kernelPath(fd))) {
                    throw refused(field, checked, "the file it holds is no longer under the allowed storage roots");
                }
                holdsChecked |= a.fileKey().equals(checked.fileKey());
            }
        } catch (IOException e) {
            throw refused(field, checked, "its open files cannot be read (" + e.getClass().getSimpleName()
                    + "); the server may have exited");
        }
        if (!holdsChecked) {
            throw refused(field, checked, "it does not hold the checked file open");
        }
    }

    /** A file of the kernel's pseudo file systems: no storage, nothing a job reads or writes. */
    private static boolean isKernelInterface(Path fd) {
        try {
            Path p = kernelPath(fd);
            return p.startsWith("/proc") || p.startsWith("/sys");
        } catch (IOException closedMeanwhile) {
            return true; // gone: nothing held
        }
    }

    /** The path the kernel shows for an open file (no symlinks; without the mark of an unlinked file). */
    private static Path kernelPath(Path fd) throws IOException {
        String target = Files.readSymbolicLink(fd).toString();
        return Path.of(target.endsWith(DELETED) ? target.substring(0, target.length() - DELETED.length()) : target);
    }

    private static InvalidInputException refused(String field, StoragePolicy.Checked checked, String why) {
        return new InvalidInputException(field, "'" + checked.requested() + "' was replaced while its NBD server"
                + " opened it (" + why + "); the export was stopped and nothing more is read or written through it");
    }
}
