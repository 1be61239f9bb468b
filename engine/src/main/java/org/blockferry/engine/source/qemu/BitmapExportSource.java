package org.blockferry.engine.source.qemu;

import java.io.IOException;
import java.util.List;
import java.util.Optional;
import org.blockferry.engine.endpoint.DiskLocation;
import org.blockferry.engine.endpoint.EndpointException;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.endpoint.LocalExport;
import org.blockferry.engine.plan.DirtyBitmapPlan;
import org.blockferry.engine.plan.DiskPlan;
import org.blockferry.engine.source.ChangeToken;
import org.blockferry.engine.source.ModeDecision;
import org.blockferry.engine.source.SourceRequest;
import org.blockferry.engine.source.TrackedDiskSource;
import org.blockferry.engine.source.nbd.NbdDiskSource;
import org.blockferry.nbd.NbdConnection;
import org.blockferry.nbd.NbdException;
import org.blockferry.nbd.NbdOptions;

/**
 * An NBD export that offers a dirty bitmap someone else manages (a running VM's backup export,
 * with {@code disks[].bitmap}): every sync copies what the bitmap marks as changed.
 */
public final class BitmapExportSource extends TrackedDiskSource {
    static final String KIND = "qemu-export";

    private final String bitmap;
    private final String field;

    private BitmapExportSource(NbdDiskSource transport, ModeDecision.Decision decision, String bitmap,
                               String field) {
        super(transport, decision);
        this.bitmap = bitmap;
        this.field = field;
    }

    /** Opens the export with {@code request.disk().bitmap()} negotiated; fails if it does not offer it. */
    public static BitmapExportSource open(SourceRequest request, DiskLocation location, LocalExport.Tools tools)
            throws IOException {
        String field = request.field();
        String bitmap = request.disk().bitmap();
        NbdDiskSource transport = NbdDiskSource.open(field, location, NbdOptions.DEFAULT, tools, List.of(bitmap));
        try (NbdConnection probe = NbdConnection.open(transport.uri(), transport.options().withHandleName("probe"))) {
            if (!probe.canMetaContext(DirtyBitmapPlan.context(bitmap))) {
                throw new InvalidInputException(field, "the export offers no dirty bitmap '" + bitmap + "'");
            }
        } catch (NbdException e) {
            transport.close();
            throw new EndpointException("source", location.display(), e);
        } catch (RuntimeException e) {
            transport.close();
            throw e;
        }
        ModeDecision.Decision decision = new ModeDecision.Decision(bitmap,
                "changes recorded in bitmap '" + bitmap + "' of the export");
        return new BitmapExportSource(transport, decision, bitmap, field);
    }

    @Override
    public DiskPlan plan(NbdConnection connection) throws IOException {
        return DirtyBitmapPlan.plan(connection, bitmap, field);
    }

    @Override
    public Optional<ChangeToken> changeToken(long capacity, String targetFingerprint) {
        return Optional.of(new ChangeToken(KIND, bitmap, capacity, targetFingerprint));
    }
}
