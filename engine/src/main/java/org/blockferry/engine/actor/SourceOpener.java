package org.blockferry.engine.actor;

import java.io.IOException;
import org.blockferry.engine.endpoint.DiskLocation;
import org.blockferry.engine.endpoint.LocalExport;
import org.blockferry.engine.plan.CopyMode;
import org.blockferry.engine.source.DiskSource;
import org.blockferry.engine.source.SourceRequest;
import org.blockferry.engine.source.nbd.NbdDiskSource;
import org.blockferry.engine.source.qemu.BitmapExportSource;
import org.blockferry.engine.source.qemu.Qcow2Source;
import org.blockferry.engine.source.vmware.VmwareSources;
import org.blockferry.nbd.NbdOptions;

/**
 * Opens a disk's source for one sync, by the job's source kind: {@code nbd} (any export or image,
 * always full), {@code qemu} (a local qcow2 with BlockFerry's bitmaps, or an export offering a
 * named dirty bitmap), {@code vmware} (a disk of the job's snapshot, with CBT). Bad input fails
 * here, naming the field, before any target is touched.
 */
final class SourceOpener {
    private SourceOpener() {
    }

    static DiskSource open(SourceRequest request, LocalExport.Tools tools, VmwareSources vmware) throws IOException {
        String kind = request.source().kind();
        if (kind.equals("vmware")) {
            return vmware.open(request);
        }
        String field = request.field();
        DiskLocation location = DiskLocation.parseExternal(field, request.disk().source());
        if (kind.equals("nbd")) {
            return NbdDiskSource.open(field, location, NbdOptions.DEFAULT, tools).because(
                    request.requested() == CopyMode.FULL ? "full copy requested"
                            : "the nbd source kind keeps no change tracking: full copy");
        }
        if (location instanceof DiskLocation.LocalImage local) {
            return Qcow2Source.open(request, local.path(), tools);
        }
        if (request.disk().bitmap() == null || request.requested() == CopyMode.FULL) {
            if (request.requested() == CopyMode.INCREMENTAL) {
                throw new org.blockferry.engine.endpoint.InvalidInputException("disk " + request.disk().id()
                        + " bitmap", "an incremental sync from an NBD export needs the name of the dirty bitmap it"
                        + " offers");
            }
            return NbdDiskSource.open(field, location, NbdOptions.DEFAULT, tools).because(
                    request.requested() == CopyMode.FULL ? "full copy requested"
                            : "no bitmap named for this export: full copy");
        }
        return BitmapExportSource.open(request, location, tools);
    }
}
