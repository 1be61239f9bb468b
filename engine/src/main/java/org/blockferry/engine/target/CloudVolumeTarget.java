package org.blockferry.engine.target;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import org.blockferry.engine.cloudstack.Cloud;
import org.blockferry.engine.cloudstack.CloudStackApi;
import org.blockferry.engine.cloudstack.Volume;
import org.blockferry.engine.cloudstack.VolumeDevices;
import org.blockferry.engine.endpoint.DiskLocation;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.endpoint.LocalExport;
import org.blockferry.engine.endpoint.StoragePolicy;
import org.blockferry.nbd.NbdConnection;
import org.blockferry.nbd.NbdOptions;

/**
 * A CloudStack volume written in place: created on the first sync (capacity rounded up to whole
 * GiB), attached to this node's appliance VM, found as a block device by its serial and exported
 * raw on a private socket. Later syncs reuse the volume their target recorded; a volume attached
 * to the appliance of another node (which ran the job before a failover) is detached from it,
 * verified detached, and attached here. Only the volume the target's {@link Ledger} recorded is
 * ever touched. Closing stops the export; the volume stays attached for the next sync.
 */
public final class CloudVolumeTarget implements DiskTarget {
    private static final long GIB = 1L << 30;

    /**
     * The target's record of its volume (its TargetActor, fenced by the write lease): what was
     * created and where BlockFerry attached it. Each change is recorded before the next step.
     */
    public interface Ledger {
        /** The volume recorded for the target, if any (its id). */
        Optional<String> volumeId();

        /** The VM BlockFerry last attached the volume to; null when it detached it. */
        String attachedTo();

        /** The VM a cutover handed the volume to (it is that VM's disk now); null before. */
        String handedTo();

        void created(String volumeId) throws IOException;

        void attached(String vmId) throws IOException;

        void detached() throws IOException;

        /** The recorded volume is gone: the target forgets it and its lineage. */
        void deleted() throws IOException;
    }

    private final DiskLocation.CloudVolume location;
    private final String volumeId;
    private final Path device;
    private final LocalExport export;
    private final NbdOptions options;

    private CloudVolumeTarget(DiskLocation.CloudVolume location, String volumeId, Path device, LocalExport export,
                              NbdOptions options) {
        this.location = location;
        this.volumeId = volumeId;
        this.device = device;
        this.export = export;
        this.options = options;
    }

    /**
     * The volume of {@code location} for a disk of {@code size} bytes, provisioned as needed and
     * exported writable. Each step is told to {@code steps} before it starts. A state only an
     * operator can fix (attached to a VM BlockFerry did not attach it to, handed over at a
     * cutover) is an {@link InvalidInputException} naming {@code field}; CloudStack's errors are
     * its {@code CloudStackException}s.
     *
     * @param offering the disk's {@code disk_offering}, or null for the cloud's default
     */
    public static CloudVolumeTarget open(String field, DiskLocation.CloudVolume location, long size, String offering,
                                         Cloud cloud, Ledger ledger, Consumer<String> steps,
                                         LocalExport.Tools tools) throws IOException {
        if (ledger.handedTo() != null) {
            throw new InvalidInputException(field, "volume " + ledger.volumeId().orElse("?") + " (" + location.name()
                    + ") became a disk of VM " + ledger.handedTo() + " at its cutover; BlockFerry does not write it"
                    + " again");
        }
        CloudStackApi api = CloudStackApi.open(cloud);
        Volume volume;
        if (ledger.volumeId().isPresent()) {
            String id = ledger.volumeId().get();
            // A recorded volume that is gone (deleted by hand, or by a cleanup that died before it
            // recorded so) is forgotten; this attempt may have planned an incremental copy from the
            // old lineage, so it stops, and the next one creates a new volume and copies in full.
            volume = api.volume(id).orElse(null);
            if (volume == null) {
                ledger.deleted();
                throw new IOException("volume " + id + " (" + location.name() + "), which BlockFerry created for"
                        + " this target, is gone from cloud " + location.cloud() + "; the next attempt creates a new"
                        + " one and copies the disk in full");
            }
        } else {
            volume = create(api, location, size, offering, ledger, steps);
        }
        volume = attachHere(field, api, cloud, volume, ledger, steps);
        steps.accept("waiting for the device of volume " + volume.id() + " under " + cloud.deviceDir());
        Path link = VolumeDevices.await(cloud.deviceDir(), volume.id(), cloud.deviceTimeout());
        Path device = link.toRealPath();
        // its size is checked by the copy like any target's (DiskCopy: smaller than the source fails)
        steps.accept("exporting " + device);
        StoragePolicy.Checked checked = tools.storage().provisionedDevice(field, link, device);
        LocalExport export = LocalExport.startRawDevice(field, checked, true, tools);
        NbdOptions options = NbdOptions.DEFAULT.withMetaContexts(List.of(NbdConnection.BASE_ALLOCATION));
        return new CloudVolumeTarget(location, volume.id(), device, export, export.guard(options));
    }

    /** Whole GiB, rounded up: CloudStack takes sizes in GB and reports bytes. */
    public static long gibFor(long bytes) {
        return Math.max(1, (bytes + GIB - 1) / GIB);
    }

    private static Volume create(CloudStackApi api, DiskLocation.CloudVolume location, long size, String offering,
                                 Ledger ledger, Consumer<String> steps) throws IOException {
        long gib = gibFor(size);
        steps.accept("creating volume " + location.name() + " (" + gib + " GiB)");
        // recorded from the create's reply, before its job ends: a job that outlives the wait
        // leaves a volume the next attempt finds, not one nobody knows of
        return api.createVolume(location.name(), api.zoneId(), api.diskOfferingId(offering), gib, id -> {
            try {
                ledger.created(id);
            } catch (IOException | RuntimeException e) {
                // not recorded, so never to be found again: it must not outlive this attempt
                try {
                    api.deleteVolume(id);
                } catch (IOException deleteFailed) {
                    e.addSuppressed(deleteFailed);
                }
                throw e;
            }
        });
    }

    /** Attached to this node's appliance: detached first from another appliance BlockFerry attached it to. */
    private static Volume attachHere(String field, CloudStackApi api, Cloud cloud, Volume volume, Ledger ledger,
                                     Consumer<String> steps) throws IOException {
        String appliance = cloud.applianceVmId();
        String vm = volume.virtualMachineId();
        if (appliance.equals(vm)) {
            if (!appliance.equals(ledger.attachedTo())) {
                // an attach whose job outlived its wait (async-timeout) ended after all: record it
                ledger.attached(appliance);
            }
            return volume;
        }
        if (vm != null) {
            if (!vm.equals(ledger.attachedTo())) {
                throw new InvalidInputException(field, "volume " + volume.id() + " is attached to VM " + vm
                        + ", which BlockFerry did not attach it to; BlockFerry leaves it there (detach it in"
                        + " CloudStack to let the sync go on)");
            }
            steps.accept("detaching volume " + volume.id() + " from appliance " + vm);
            api.detachVerified(volume.id());
            ledger.detached();
        }
        steps.accept("attaching volume " + volume.id() + " to appliance " + appliance);
        Volume attached = api.attachVolume(volume.id(), appliance);
        ledger.attached(appliance);
        return attached;
    }

    /** The volume's id in its cloud. */
    public String volumeId() {
        return volumeId;
    }

    /** The block device the volume is on this node. */
    public Path device() {
        return device;
    }

    @Override
    public String describe() {
        return location.display() + " (volume " + volumeId + ")";
    }

    @Override
    public String uri() {
        return export.uri();
    }

    @Override
    public NbdOptions options() {
        return options;
    }

    /** Whether a new volume reads as zeros depends on its primary storage: never assumed. */
    @Override
    public boolean createdFresh() {
        return false;
    }

    @Override
    public void close() {
        export.close();
    }
}
