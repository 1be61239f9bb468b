package org.blockferry.engine.source.qemu;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.blockferry.engine.endpoint.DiskLocation;
import org.blockferry.engine.endpoint.LocalExport;
import org.blockferry.engine.endpoint.StoragePolicy;
import org.blockferry.engine.plan.DirtyBitmapPlan;
import org.blockferry.engine.plan.DiskPlan;
import org.blockferry.engine.source.ChangeToken;
import org.blockferry.engine.source.ModeDecision;
import org.blockferry.engine.source.SourceRequest;
import org.blockferry.engine.source.TrackedDiskSource;
import org.blockferry.engine.source.nbd.NbdDiskSource;
import org.blockferry.nbd.NbdConnection;
import org.blockferry.nbd.NbdOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A local qcow2 image with BlockFerry's own persistent dirty bitmaps, as libvirt checkpoints
 * keep them: sync N adds bitmap {@code tN} before exporting the image, copies what
 * {@code t(N-1)} marks dirty (or everything, for a full sync), and leaves {@code tN} as its
 * token; only once that token is recorded is {@code t(N-1)} removed. A failed or interrupted
 * sync keeps {@code t(N-1)}, which still covers everything since the last completed sync.
 */
public final class Qcow2Source extends TrackedDiskSource {
    private static final Logger log = LoggerFactory.getLogger(Qcow2Source.class);
    static final String KIND = "qemu";

    private final QemuImg img;
    private final Path image;
    private final String current;
    private final String field;

    private Qcow2Source(NbdDiskSource transport, ModeDecision.Decision decision, QemuImg img, Path image,
                        String current, String field) {
        super(transport, decision);
        this.img = img;
        this.image = image;
        this.current = current;
        this.field = field;
    }

    /**
     * Decides the sync of {@code image} and exports it. Bad input (not a qcow2, a locked image,
     * {@code incremental} without a usable token) fails before anything is exported. The image and
     * its backing chain pass the tools' storage policy before qemu-img reads or changes anything,
     * and qemu-img works on the real path that was checked.
     */
    public static Qcow2Source open(SourceRequest request, Path requested, LocalExport.Tools tools)
            throws IOException {
        String field = request.field();
        LocalExport.CheckedImage checked = LocalExport.checkImageWithInfo(field, requested, StoragePolicy.Access.READ,
                tools);
        Path image = checked.checked().path();
        QemuImg img = QemuImg.of(tools.qemuImg(), field, image);
        // the chain's walk has just read the image's size and bitmaps: no second qemu-img run
        QemuImg.Info info = checked.qemuImgInfo() != null ? QemuImg.parseInfo(checked.qemuImgInfo()) : img.info();
        ModeDecision.Decision decision = ModeDecision.decide(request, KIND, info.virtualSize(), List.of(),
                List.of(token -> bitmapProblem(info, image, token.reference())),
                base -> "the sync that left bitmap '" + base + "'", field);
        String family = BitmapNames.family(request.targetIdentity());
        String current = BitmapNames.forJob(family, request.jobId());
        removeStale(img, info, image, family, decision.base(), current);
        if (info.bitmap(current).isEmpty()) {
            img.addBitmap(current); // records every write from now on: the next sync's changes
            log.info("event=bitmap-added image={} bitmap={}", image, current);
        }
        // exported as checked above (adding a bitmap changes no file of its chain); its server's
        // open files are verified against that check
        NbdDiskSource transport = NbdDiskSource.exportChecked(field, new DiskLocation.LocalImage(image),
                checked.checked(), NbdOptions.DEFAULT, tools, decision.full() ? List.of() : List.of(decision.base()));
        return new Qcow2Source(transport, decision, img, image, current, field);
    }

    private static Optional<String> bitmapProblem(QemuImg.Info info, Path image, String bitmap) {
        Optional<QemuImg.Bitmap> b = info.bitmap(bitmap);
        if (b.isEmpty()) {
            return Optional.of("bitmap '" + bitmap + "' is gone from " + image);
        }
        if (b.get().inUse()) {
            return Optional.of("bitmap '" + bitmap + "' is inconsistent (the image was not closed cleanly)");
        }
        return Optional.empty();
    }

    /** Bitmaps of this target that no sync will need: those of earlier failed or interrupted syncs. */
    private static void removeStale(QemuImg img, QemuImg.Info info, Path image, String family, String base,
                                    String current) throws IOException {
        for (QemuImg.Bitmap b : info.bitmaps()) {
            if (BitmapNames.inFamily(family, b.name()) && !b.name().equals(base) && !b.name().equals(current)) {
                img.removeBitmap(b.name());
                log.info("event=bitmap-removed image={} bitmap={} why=stale", image, b.name());
            }
        }
    }

    @Override
    public DiskPlan plan(NbdConnection connection) throws IOException {
        return decision().full() ? NbdDiskSource.fullPlan(connection)
                : DirtyBitmapPlan.plan(connection, decision().base(), field);
    }

    @Override
    public Optional<ChangeToken> changeToken(long capacity, String targetFingerprint) {
        return Optional.of(new ChangeToken(KIND, current, capacity, targetFingerprint));
    }

    /**
     * The bitmap this sync copied the changes of is superseded by the one it leaves. A sync that
     * resumes after its token was recorded (a crash between recording it and completing the job)
     * copies the changes since its own bitmap: that one is the token and stays.
     */
    @Override
    public void completed() {
        String base = decision().base();
        if (base == null || base.equals(current)) {
            return;
        }
        try {
            img.removeBitmap(base);
            log.info("event=bitmap-removed image={} bitmap={} why=superseded-by {}", image, base, current);
        } catch (IOException | RuntimeException e) {
            // harmless: the next sync removes stale bitmaps of this target
            log.warn("event=bitmap-remove-failed image={} bitmap={} error={}", image, base, e.getMessage());
        }
    }
}
