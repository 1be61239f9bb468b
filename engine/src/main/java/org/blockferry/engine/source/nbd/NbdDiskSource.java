package org.blockferry.engine.source.nbd;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.blockferry.engine.endpoint.DiskLocation;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.endpoint.LocalExport;
import org.blockferry.engine.endpoint.StoragePolicy;
import org.blockferry.engine.plan.AllocationMap;
import org.blockferry.engine.plan.DirtyBitmapPlan;
import org.blockferry.engine.plan.DiskPlan;
import org.blockferry.engine.source.DiskSource;
import org.blockferry.nbd.NbdConnection;
import org.blockferry.nbd.NbdOptions;

/**
 * A plain NBD source: an NBD URI, or a local raw/qcow2 image exported read-only on a private
 * socket. Its plan is always full, from {@code base:allocation}. The QEMU and VMware sources
 * reach their disks through one of these.
 */
public final class NbdDiskSource implements DiskSource {
    private static final String FULL = "full copy";
    private final String description;
    private final String uri;
    private final NbdOptions options;
    private final LocalExport export;
    private final String reason;

    private NbdDiskSource(String description, String uri, NbdOptions options, LocalExport export, String reason) {
        this.description = description;
        this.uri = uri;
        this.options = options;
        this.export = export;
        this.reason = reason;
    }

    /** The same source, with why its sync is a full copy (what the job's state shows). */
    public NbdDiskSource because(String why) {
        return new NbdDiskSource(description, uri, options, export, why);
    }

    @Override
    public String modeReason() {
        return reason;
    }

    /**
     * Opens {@code location}; a local image is exported read-only. Both pass the tools' storage
     * policy first (a local path, or an NBD URI's options), and a local export's connections
     * verify what its server opened.
     */
    public static NbdDiskSource open(String field, DiskLocation location, NbdOptions tls, LocalExport.Tools tools)
            throws IOException {
        return open(field, location, tls, tools, List.of());
    }

    /**
     * Opens {@code location} with the dirty {@code bitmaps} negotiated as meta contexts; a local
     * qcow2 image is exported read-only offering them.
     */
    public static NbdDiskSource open(String field, DiskLocation location, NbdOptions tls, LocalExport.Tools tools,
                                     List<String> bitmaps) throws IOException {
        if (location instanceof DiskLocation.LocalImage local) {
            return exported(location, LocalExport.startChecked(field,
                    LocalExport.checkImage(field, local.path(), StoragePolicy.Access.READ, tools), false, bitmaps,
                    tools), tls, bitmaps);
        }
        NbdOptions options = withContexts(tls, bitmaps);
        if (!(location instanceof DiskLocation.NbdUri nbd)) {
            throw new InvalidInputException(field, "'" + location.display() + "' is not an NBD URI or a local path");
        }
        String uri = nbd.uri();
        tools.storage().checkUri(field, uri);
        return new NbdDiskSource(location.display(), uri, options, null, FULL);
    }

    /**
     * Exports, read-only, a local image its caller has just checked with
     * {@link LocalExport#checkImage} (on its real path), offering its dirty {@code bitmaps}: the
     * export's connections verify that its server opened what was checked.
     */
    public static NbdDiskSource exportChecked(String field, DiskLocation.LocalImage location,
                                              StoragePolicy.Checked checked, NbdOptions tls, LocalExport.Tools tools,
                                              List<String> bitmaps) throws IOException {
        return exported(location, LocalExport.startChecked(field, checked, false, bitmaps, tools), tls, bitmaps);
    }

    private static NbdDiskSource exported(DiskLocation location, LocalExport export, NbdOptions tls,
                                          List<String> bitmaps) {
        return new NbdDiskSource(location.display(), export.uri(), export.guard(withContexts(tls, bitmaps)), export,
                FULL);
    }

    private static NbdOptions withContexts(NbdOptions tls, List<String> bitmaps) {
        List<String> contexts = new ArrayList<>(BASE_CONTEXTS);
        bitmaps.forEach(b -> contexts.add(DirtyBitmapPlan.context(b)));
        return tls.withMetaContexts(contexts);
    }

    /**
     * A source served by a server the caller started ({@code nbdkit vddk}); closing the source
     * stops it. {@code description} names it in messages.
     */
    public static NbdDiskSource served(String description, LocalExport export, NbdOptions tls) {
        return new NbdDiskSource(description, export.uri(), tls.withMetaContexts(BASE_CONTEXTS), export, FULL);
    }

    /**
     * A reader of an export this node serves itself for another purpose (a provisioned target,
     * compared after its copy); closing it leaves the export running.
     */
    public static NbdDiskSource reading(String description, String uri, NbdOptions options) {
        return new NbdDiskSource(description, uri, options.withMetaContexts(BASE_CONTEXTS), null, FULL);
    }

    @Override
    public String describe() {
        return description;
    }

    @Override
    public String uri() {
        return uri;
    }

    @Override
    public NbdOptions options() {
        return options;
    }

    /** A full plan from {@code base:allocation}: a plain NBD source keeps no change tracking. */
    @Override
    public DiskPlan plan(NbdConnection connection) throws IOException {
        return fullPlan(connection);
    }

    /** Every extent of the export, classified by {@code base:allocation}. */
    public static DiskPlan fullPlan(NbdConnection connection) throws IOException {
        long size = connection.size();
        return DiskPlan.of(size, AllocationMap.read(connection, size));
    }

    @Override
    public void close() {
        if (export != null) {
            export.close();
        }
    }
}
