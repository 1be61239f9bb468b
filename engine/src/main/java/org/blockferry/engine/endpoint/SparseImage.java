package org.blockferry.engine.endpoint;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.SecureDirectoryStream;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * A new target image: a sparse raw file of the source's size (no byte written), readable and
 * writable by the node's user only (0600), created where the check allowed it and nowhere else.
 *
 * <p>Restricted, the file is created relative to its allowed root's open directory, each
 * directory on the way opened without following symlinks ({@link SecureDirectoryStream}, i.e.
 * {@code openat} with {@code O_NOFOLLOW}), and with {@code O_CREAT|O_EXCL|O_NOFOLLOW}: a directory
 * or the name swapped for a symlink after the check fails the creation instead of creating the
 * file elsewhere. The created file's real path is then checked again.
 */
public final class SparseImage {
    private static final FileAttribute<?> OWNER_ONLY =
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"));
    private static final Set<OpenOption> CREATE = Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
            LinkOption.NOFOLLOW_LINKS);

    private SparseImage() {
    }

    /**
     * Creates the target {@code checked} (of kind {@code ABSENT}) with {@code size} bytes and
     * returns it checked as a file. Failures name {@code field}.
     */
    public static StoragePolicy.Checked create(String field, StoragePolicy.Checked checked, long size,
                                               StoragePolicy policy) throws IOException {
        Path path = checked.path();
        Path parent = path.getParent();
        if (parent == null || !Files.isDirectory(parent)) {
            throw new InvalidInputException(field, "cannot create " + checked.requested() + ": directory "
                    + checked.requested().getParent() + " does not exist");
        }
        if (checked.root() == null) {
            createAt(field, checked, path, size);
            return policy.checkPath(field, checked.requested(), StoragePolicy.Access.WRITE);
        }
        Object key = createUnderRoot(field, checked, size);
        StoragePolicy.Checked now;
        try {
            now = policy.checkPath(field, checked.requested(), StoragePolicy.Access.WRITE);
        } catch (InvalidInputException e) {
            Files.deleteIfExists(path);
            throw e;
        }
        if (!key.equals(now.fileKey())) {
            Files.deleteIfExists(path);
            throw new InvalidInputException(field, "'" + checked.requested() + "' was replaced right after it was"
                    + " created; it was removed");
        }
        return now;
    }

    /** Unrestricted: at the path, still never through a symlink at its last name. */
    private static void createAt(String field, StoragePolicy.Checked checked, Path path, long size)
            throws IOException {
        try (SeekableByteChannel held = Files.newByteChannel(path, CREATE, OWNER_ONLY)) { // open while extended
            extend(Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey(), size);
        } catch (FileAlreadyExistsException e) {
            throw new InvalidInputException(field, "cannot create " + checked.requested() + ": it appeared meanwhile"
                    + " (or is a symbolic link that leads nowhere)");
        } catch (IOException e) {
            throw new InvalidInputException(field, "cannot create " + checked.requested() + ": " + e.getMessage());
        }
    }

    private static Object createUnderRoot(String field, StoragePolicy.Checked checked, long size) throws IOException {
        Path root = checked.root();
        Path relative = root.relativize(checked.path());
        try (DirectoryStream<Path> top = Files.newDirectoryStream(root)) {
            if (!(top instanceof SecureDirectoryStream<Path> dir)) {
                throw new IOException("this platform cannot create files relative to a directory (openat)");
            }
            SecureDirectoryStream<Path> current = dir;
            List<SecureDirectoryStream<Path>> opened = new ArrayList<>();
            try {
                for (int i = 0; i < relative.getNameCount() - 1; i++) {
                    current = current.newDirectoryStream(relative.getName(i), LinkOption.NOFOLLOW_LINKS);
                    opened.add(current);
                }
                Path name = relative.getFileName();
                try (SeekableByteChannel held = current.newByteChannel(name, CREATE, OWNER_ONLY)) { // see extend
                    Object key = current.getFileAttributeView(name, BasicFileAttributeView.class,
                            LinkOption.NOFOLLOW_LINKS).readAttributes().fileKey();
                    extend(key, size);
                    return key;
                }
            } finally {
                for (SecureDirectoryStream<Path> s : opened) {
                    s.close();
                }
            }
        } catch (FileAlreadyExistsException e) {
            throw new InvalidInputException(field, "cannot create " + checked.requested() + ": it appeared meanwhile");
        } catch (IOException e) {
            throw new InvalidInputException(field, "cannot create " + checked.requested() + " inside " + root
                    + ": a directory on the way changed since the check or is a symbolic link (" + e.getClass()
                    .getSimpleName() + ")");
        }
    }

    /**
     * Sets the size of the file just created, which this process holds open, without writing a
     * byte (sparse: it reads as zeros and takes no space). Java can only extend a file it opens by
     * name, so the file is reopened through this process's own descriptor of it
     * ({@code /proc/self/fd/N}, found by device and inode): whatever its name leads to by now,
     * that is the file we created.
     */
    private static void extend(Object key, long size) throws IOException {
        if (size == 0) {
            return;
        }
        try (DirectoryStream<Path> fds = Files.newDirectoryStream(Path.of("/proc/self/fd"))) {
            for (Path fd : fds) {
                Object open;
                try {
                    open = Files.readAttributes(fd, BasicFileAttributes.class).fileKey();
                } catch (IOException closedMeanwhile) {
                    continue;
                }
                if (key.equals(open)) {
                    try (RandomAccessFile file = new RandomAccessFile(fd.toFile(), "rw")) {
                        file.setLength(size);
                    }
                    return;
                }
            }
        }
        throw new IOException("the created file is no longer the one open (it was replaced)");
    }
}
