package org.blockferry.engine.target;

import java.io.IOException;
import java.nio.file.Files;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import org.blockferry.engine.endpoint.DiskLocation;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.endpoint.LocalExport;
import org.blockferry.engine.endpoint.SparseImage;
import org.blockferry.engine.endpoint.StoragePolicy;
import org.blockferry.nbd.NbdConnection;
import org.blockferry.nbd.NbdOptions;

/**
 * An NBD target: an NBD URI, or a local image exported writable on a private socket. A local
 * path that does not exist yet is created as a sparse raw file of the source's size, readable and
 * writable by the node's user only.
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

    /**
     * Opens {@code location} for writing a disk of {@code size} bytes. A local path passes the
     * tools' storage policy (on its real path) and is exported writable; one that does not exist
     * yet is created (0600, sparse) where the policy allowed it. An NBD URI's options pass it too.
     */
    public static NbdDiskTarget open(String field, DiskLocation location, long size, NbdOptions tls,
                                     LocalExport.Tools tools) throws IOException {
        NbdOptions options = tls.withMetaContexts(List.of(NbdConnection.BASE_ALLOCATION));
        if (location instanceof DiskLocation.CloudVolume) {
            throw new InvalidInputException(field, "'" + location.display() + "' is a CloudStack volume: it is"
                    + " opened through its cloud (CloudVolumeTarget), not as an NBD export");
        }
        if (!(location instanceof DiskLocation.LocalImage local)) {
            String uri = ((DiskLocation.NbdUri) location).uri();
            tools.storage().checkUri(field, uri);
            return new NbdDiskTarget(location, uri, options, null, false);
        }
        return exportLocal(field, location, local, OptionalLong.of(size), options, tools).orElseThrow();
    }

    /**
     * Opens a local file that exists, whatever its size (the copy compares it with the source's):
     * what a disk's setup does while its source still opens, as the file's size is only needed to
     * create it. Empty when there is no file at that path (now): then {@link #open} it with the
     * source's size.
     */
    public static Optional<NbdDiskTarget> openExisting(String field, DiskLocation.LocalImage location, NbdOptions tls,
                                                       LocalExport.Tools tools) throws IOException {
        return exportLocal(field, location, location, OptionalLong.empty(),
                tls.withMetaContexts(List.of(NbdConnection.BASE_ALLOCATION)), tools);
    }

    /** An absent file is created with {@code sizeToCreate}; without one, nothing is opened (empty). */
    private static Optional<NbdDiskTarget> exportLocal(String field, DiskLocation location,
                                                       DiskLocation.LocalImage local, OptionalLong sizeToCreate,
                                                       NbdOptions options, LocalExport.Tools tools) throws IOException {
        StoragePolicy.Checked checked = tools.storage().checkPath(field, local.path(), StoragePolicy.Access.WRITE);
        boolean created = checked.kind() == StoragePolicy.Checked.Kind.ABSENT;
        if (created && sizeToCreate.isEmpty()) {
            return Optional.empty();
        }
        checked = created ? SparseImage.create(field, checked, sizeToCreate.getAsLong(), tools.storage())
                : LocalExport.checkImage(field, local.path(), StoragePolicy.Access.WRITE, tools);
        try {
            LocalExport export = LocalExport.startChecked(field, checked, true, List.of(), tools);
            return Optional.of(new NbdDiskTarget(location, export.uri(), export.guard(options), export, created));
        } catch (IOException | RuntimeException e) {
            if (created) {
                Files.deleteIfExists(checked.path());
            }
            throw e;
        }
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
