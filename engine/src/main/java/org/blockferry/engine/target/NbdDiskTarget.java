package org.blockferry.engine.target;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.blockferry.engine.endpoint.DiskLocation;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.endpoint.LocalExport;
import org.blockferry.nbd.NbdConnection;
import org.blockferry.nbd.NbdOptions;

/**
 * An NBD target: an NBD URI, or a local image exported writable on a private socket. A local
 * path that does not exist yet is created as a sparse raw file of the source's size.
 */
public final class NbdDiskTarget implements DiskTarget {
    private final DiskLocation location;
    private final String uri;
    private final NbdOptions options;
    private final LocalExport export;
    private final boolean created;

    private NbdDiskTarget(DiskLocation location, String uri, NbdOptions options, LocalExport export, boolean created) {
        this.location = location;
        this.uri = uri;
        this.options = options;
        this.export = export;
        this.created = created;
    }

    /** Opens {@code location} for writing a disk of {@code size} bytes. */
    public static NbdDiskTarget open(String field, DiskLocation location, long size, NbdOptions tls,
                                     LocalExport.Tools tools) throws IOException {
        NbdOptions options = tls.withMetaContexts(List.of(NbdConnection.BASE_ALLOCATION));
        if (location instanceof DiskLocation.LocalImage local) {
            boolean created = createIfMissing(field, local.path(), size);
            try {
                LocalExport export = LocalExport.start(field, local.path(), true, tools);
                return new NbdDiskTarget(location, export.uri(), options, export, created);
            } catch (IOException | RuntimeException e) {
                if (created) {
                    Files.deleteIfExists(local.path());
                }
                throw e;
            }
        }
        return new NbdDiskTarget(location, ((DiskLocation.NbdUri) location).uri(), options, null, false);
    }

    private static boolean createIfMissing(String field, Path path, long size) throws IOException {
        if (Files.exists(path)) {
            return false;
        }
        Path parent = path.getParent();
        if (parent == null || !Files.isDirectory(parent)) {
            throw new InvalidInputException(field, "cannot create " + path + ": directory " + parent + " does not exist");
        }
        try (RandomAccessFile file = new RandomAccessFile(path.toFile(), "rw")) {
            file.setLength(size); // sparse: reads as zeros, takes no space
        } catch (IOException e) {
            throw new InvalidInputException(field, "cannot create " + path + ": " + e.getMessage());
        }
        return true;
    }

    @Override
    public String describe() {
        return location.display();
    }

    @Override
    public String uri() {
        return uri;
    }

    @Override
    public NbdOptions options() {
        return options;
    }

    @Override
    public boolean createdFresh() {
        return created;
    }

    @Override
    public void close() {
        if (export != null) {
            export.close();
        }
    }
}
