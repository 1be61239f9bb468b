package org.blockferry.engine.sync;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.blockferry.engine.copy.CopyJob;
import org.blockferry.engine.endpoint.DiskLocation;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.endpoint.LocalExport;
import org.blockferry.engine.job.ChangeToken;
import org.blockferry.engine.job.ChangeTokens;
import org.blockferry.engine.job.CopyMode;
import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.plan.ChangedAreas;
import org.blockferry.engine.source.NbdDiskSource;
import org.blockferry.engine.source.QemuImg;
import org.blockferry.nbd.NbdConnection;
import org.blockferry.nbd.NbdException;
import org.blockferry.nbd.NbdOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One sync of one disk, decided before anything is written: its source (open), how the run is
 * planned, full or incremental and why, and the change token it leaves for the next sync.
 *
 * <p>For a local qcow2 ({@code qemu} kind) BlockFerry keeps its own persistent dirty bitmaps, as
 * libvirt checkpoints do: sync N adds bitmap {@code tN} before exporting the image, copies what
 * {@code t(N-1)} marks dirty (or everything, for a full sync), and completes with {@code tN} as
 * its token; only then is {@code t(N-1)} removed. A failed or interrupted sync keeps
 * {@code t(N-1)}, which still covers everything since the last completed sync.
 */
public final class DiskSync implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(DiskSync.class);

    private final NbdDiskSource source;
    private final CopyJob.Planner planner;
    private final CopyMode mode;
    private final String reason;
    private final Tracking tracking;

    /** What a sync does with change tracking once it completed. */
    interface Tracking {
        /** The token to store with the completed disk (null: none). */
        String token(String target, long capacity);

        /** Removes what the next sync no longer needs. */
        void completed();

        /** After the source closed, on success, failure and cancel alike (a vmware snapshot goes). */
        default void closed() {
        }
    }

    private static final Tracking NONE = new Tracking() {
        @Override
        public String token(String target, long capacity) {
            return null;
        }

        @Override
        public void completed() {
        }
    };

    DiskSync(NbdDiskSource source, CopyJob.Planner planner, CopyMode mode, String reason, Tracking tracking) {
        this.source = source;
        this.planner = planner;
        this.mode = mode;
        this.reason = reason;
        this.tracking = tracking;
    }

    public NbdDiskSource source() {
        return source;
    }

    public CopyJob.Planner planner() {
        return planner;
    }

    public CopyMode mode() {
        return mode;
    }

    /** Why this mode (recorded in the job state). */
    public String reason() {
        return reason;
    }

    /** The change token of this sync, once every byte is on the target. */
    public String token(String target, long capacity) {
        return tracking.token(target, capacity);
    }

    /** After the completion is recorded: drop the previous sync's bitmap. */
    public void completed() {
        tracking.completed();
    }

    @Override
    public void close() {
        try {
            source.close();
        } finally {
            tracking.closed();
        }
    }

    /**
     * Decides and prepares the sync of {@code disk}. Bad input (a missing or non-qcow2 image, an
     * absent bitmap, a locked image, {@code incremental} without a valid token) is an
     * {@link InvalidInputException} naming the disk, thrown before the target is touched.
     */
    public static DiskSync prepare(String jobId, JobSpec spec, JobSpec.Disk disk, ChangeTokens tokens,
                                   LocalExport.Tools tools, VmwareSettings vmware) throws IOException {
        String field = "disk " + disk.id() + " source";
        String kind = spec.source().kind();
        if (kind.equals("vmware")) {
            return VmwareSync.prepare(jobId, spec, disk, tokens, tools, vmware);
        }
        DiskLocation location = DiskLocation.parse(field, disk.source());
        if (kind.equals("nbd")) {
            NbdDiskSource source = NbdDiskSource.open(field, location, NbdOptions.DEFAULT, tools);
            return new DiskSync(source, CopyJob.Planner.FULL, CopyMode.FULL, spec.mode() == CopyMode.FULL
                    ? "full copy requested" : "the nbd source kind keeps no change tracking: full copy", NONE);
        }
        if (location instanceof DiskLocation.LocalImage local) {
            return qcow2(jobId, spec.mode(), disk, local.path(), field, tokens, tools);
        }
        return export(spec.mode(), disk, location, field, tools);
    }

    /** A local qcow2 with BlockFerry's own bitmaps. */
    private static DiskSync qcow2(String jobId, CopyMode requested, JobSpec.Disk disk, Path image, String field,
                                  ChangeTokens tokens, LocalExport.Tools tools) throws IOException {
        QemuImg img = QemuImg.of(tools.qemuImg(), field, image);
        QemuImg.Info info = img.info();
        String family = BitmapNames.family(disk.target());
        String current = BitmapNames.forJob(family, jobId);
        Optional<ChangeToken> previous = lastToken(tokens, disk).filter(t -> t.kind().equals("qemu"));
        String base = null;
        String reason;
        if (requested == CopyMode.FULL) {
            reason = "full copy requested";
        } else if (previous.isEmpty()) {
            reason = "no change token yet for this disk and target";
        } else if (previous.get().capacity() != info.virtualSize()) {
            reason = "the disk's size changed (" + previous.get().capacity() + " -> " + info.virtualSize() + " bytes)";
        } else if (!previous.get().target().equals(fingerprint(disk.target()))) {
            reason = "the target was replaced since the last sync (" + disk.target() + ")";
        } else if (info.bitmap(previous.get().reference()).isEmpty()) {
            reason = "bitmap '" + previous.get().reference() + "' is gone from " + image;
        } else if (info.bitmap(previous.get().reference()).get().inUse()) {
            reason = "bitmap '" + previous.get().reference() + "' is inconsistent (the image was not closed cleanly)";
        } else {
            base = previous.get().reference();
            reason = "changes since the sync that left bitmap '" + base + "'";
        }
        if (requested == CopyMode.INCREMENTAL && base == null) {
            throw new InvalidInputException(field, "an incremental sync is not possible: " + reason
                    + " (use mode auto, which falls back to a full copy, or full)");
        }
        // Bitmaps of this target that no sync will need: earlier failed or interrupted syncs.
        for (QemuImg.Bitmap b : info.bitmaps()) {
            if (BitmapNames.inFamily(family, b.name()) && !b.name().equals(base) && !b.name().equals(current)) {
                img.removeBitmap(b.name());
                log.info("event=bitmap-removed image={} bitmap={} why=stale", image, b.name());
            }
        }
        if (info.bitmap(current).isEmpty()) {
            img.addBitmap(current); // records every write from now on: the next sync's changes
            log.info("event=bitmap-added image={} bitmap={}", image, current);
        }
        String from = base;
        NbdDiskSource source = NbdDiskSource.open(field, new DiskLocation.LocalImage(image), NbdOptions.DEFAULT, tools,
                from == null ? List.of() : List.of(from));
        CopyJob.Planner planner = from == null ? CopyJob.Planner.FULL
                : (src, connection) -> ChangedAreas.plan(connection, from, field);
        Tracking tracking = new Tracking() {
            @Override
            public String token(String target, long capacity) {
                return new ChangeToken("qemu", current, capacity, fingerprint(target)).format();
            }

            @Override
            public void completed() {
                if (from == null) {
                    return;
                }
                try {
                    img.removeBitmap(from);
                    log.info("event=bitmap-removed image={} bitmap={} why=superseded-by {}", image, from, current);
                } catch (IOException | RuntimeException e) {
                    // harmless: the next sync removes stale bitmaps of this target
                    log.warn("event=bitmap-remove-failed image={} bitmap={} error={}", image, from, e.getMessage());
                }
            }
        };
        return new DiskSync(source, planner, base == null ? CopyMode.FULL : CopyMode.INCREMENTAL,
                base == null ? reason + ": full copy" : reason, tracking);
    }

    /** An NBD export that offers a dirty bitmap someone else manages (a running VM's backup export). */
    private static DiskSync export(CopyMode requested, JobSpec.Disk disk, DiskLocation location, String field,
                                   LocalExport.Tools tools) throws IOException {
        String bitmap = disk.bitmap();
        if (requested == CopyMode.FULL || bitmap == null) {
            if (requested == CopyMode.INCREMENTAL) {
                throw new InvalidInputException("disk " + disk.id() + " bitmap", "an incremental sync from an NBD"
                        + " export needs the name of the dirty bitmap it offers");
            }
            NbdDiskSource source = NbdDiskSource.open(field, location, NbdOptions.DEFAULT, tools);
            return new DiskSync(source, CopyJob.Planner.FULL, CopyMode.FULL, requested == CopyMode.FULL
                    ? "full copy requested" : "no bitmap named for this export: full copy", NONE);
        }
        NbdDiskSource source = NbdDiskSource.open(field, location, NbdOptions.DEFAULT, tools, List.of(bitmap));
        try (NbdConnection probe = NbdConnection.open(source.uri(), source.options().withHandleName("probe"))) {
            if (!probe.canMetaContext(ChangedAreas.context(bitmap))) {
                throw new InvalidInputException(field, "the export offers no dirty bitmap '" + bitmap + "'");
            }
        } catch (NbdException e) {
            source.close();
            throw new org.blockferry.engine.endpoint.EndpointException("source", location.display(), e);
        } catch (RuntimeException e) {
            source.close();
            throw e;
        }
        Tracking tracking = new Tracking() {
            @Override
            public String token(String target, long capacity) {
                return new ChangeToken("qemu-export", bitmap, capacity, fingerprint(target)).format();
            }

            @Override
            public void completed() {
            }
        };
        return new DiskSync(source, (src, connection) -> ChangedAreas.plan(connection, bitmap, field),
                CopyMode.INCREMENTAL, "changes recorded in bitmap '" + bitmap + "' of the export", tracking);
    }

    static Optional<ChangeToken> lastToken(ChangeTokens tokens, JobSpec.Disk disk) throws IOException {
        try {
            return tokens.last(disk.source(), disk.target()).flatMap(ChangeToken::parse);
        } catch (IOException e) {
            throw e;
        } catch (Exception e) {
            throw new IOException("cannot read the last change token of disk " + disk.id() + ": " + e.getMessage(), e);
        }
    }

    /** Which target a token was made for: a local file's inode (a replaced file is another target). */
    static String fingerprint(String target) {
        if (target.contains("://")) {
            return "uri";
        }
        Path p = Path.of(target);
        try {
            return Files.exists(p) ? "ino:" + Files.getAttribute(p, "unix:ino") : "absent";
        } catch (IOException | UnsupportedOperationException e) {
            return "unknown";
        }
    }
}
