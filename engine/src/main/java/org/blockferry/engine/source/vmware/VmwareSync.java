package org.blockferry.engine.source.vmware;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import org.blockferry.engine.endpoint.DiskLocation;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.endpoint.LocalExport;
import org.blockferry.engine.endpoint.StoragePolicy;
import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.plan.ChangedArea;
import org.blockferry.engine.plan.CopyMode;
import org.blockferry.engine.source.DiskSource;
import org.blockferry.engine.source.ModeDecision;
import org.blockferry.engine.source.SourceRequest;
import org.blockferry.engine.source.nbd.NbdDiskSource;
import org.blockferry.engine.source.vmware.JobSnapshotLeases.Lease;
import org.blockferry.engine.source.vmware.vim.ManagedObject;
import org.blockferry.engine.source.vmware.vim.VimClient;
import org.blockferry.engine.source.vmware.vim.VimFault;
import org.blockferry.engine.source.vmware.vim.VirtualDiskInfo;
import org.blockferry.nbd.NbdOptions;

/**
 * The sync of one disk of a vSphere VM with Changed Block Tracking.
 *
 * <p>Each disk sync logs in with its own session ({@link VsphereSession}) to the vCenter
 * configured on the node under the name the job gives ({@code source.vcenter}). The disks of a job
 * share ONE snapshot, {@code blockferry-<job>}, so they are copied as of the same moment: the
 * first disk to start enables CBT on the VM if it is off and takes it, later disks of the job
 * (and retries) on this node join it, and the last disk to close removes it, whether it
 * succeeded, failed or was cancelled ({@link JobSnapshots}). (With {@code max_parallel_disks}
 * below the disk count, a disk that starts after all earlier ones ended takes a new snapshot:
 * still correct, a later moment.) The disks are read from the snapshot's own
 * {@code config.hardware.device}, as VMware's CBT guidance says: once the snapshot is taken the VM
 * runs on new delta files, so the snapshot names the file it froze (what VDDK reads, with the
 * snapshot) and that disk's changeId as of the snapshot, the token the next sync asks "changed
 * since" with. A job names a disk by device key or by a VMDK file of its chain (the base disk). A
 * full sync copies the areas of changeId {@code *}
 * (allocated) and zeroes the rest of the target; an incremental one copies the areas changed
 * since the stored changeId. A reset CBT (another UUID part) or a changeId vCenter rejects
 * (FileFault) means a full copy in mode {@code auto} and an error in mode {@code incremental}.
 *
 * <p>Data path: without {@code source.datastore_map}, the snapshot's disk is read through
 * {@code nbdkit vddk} ({@link VddkSource}). With it (datastore-mapped mode, for labs and tests)
 * the VMDK's file name ({@code [ds] dir/disk.vmdk}) is mapped to a local flat raw image, read
 * through nbdkit's {@code file} plugin; it reads flat files only, so a disk already on a delta
 * (snapshots taken by others) is refused there. Either way only the CBT areas are read.
 */
final class VmwareSync {
    /** The token reference after a resume across a crash: the next sync must be full. */
    static final String UNTRUSTED = "untrusted-after-crash";
    static final String KIND = "vmware";

    private VmwareSync() {
    }

    /** The decision and the areas it copies (a rejected changeId turns an incremental decision full). */
    private record Changes(ModeDecision.Decision decision, List<ChangedArea> areas) {
    }

    /** Opens one disk of the VM in {@code request} for one sync (see the class comment); blocks on vCenter. */
    static DiskSource open(SourceRequest request, LocalExport.Tools tools, VmwareSettings settings,
                           JobSnapshotLeases leases) throws IOException {
        JobSpec.Source src = request.source();
        String field = request.field();
        Vcenter vcenter = settings.vcenters().named(src.vcenter());
        VsphereSession session = VsphereSession.open(vcenter, settings.maxReplyBytes());
        VimClient vim = session.vim();
        Lease lease = null;
        try {
            ManagedObject vm = vim.findByInventoryPath(src.vm()).orElseThrow(() -> new InvalidInputException(
                    "source.vm", "no VM at inventory path '" + src.vm() + "' on " + vcenter.describe()));
            VirtualDiskInfo named = find(vim.virtualDisks(vm), request.disk(), field, src.vm());
            DataPath path = DataPath.of(src, settings, field, named); // fails before a snapshot
            lease = leases.acquire(new VmJob(vcenter, src.vm(), request.jobId(), settings), vim, vm,
                    request.finalSync());
            JobSnapshot snapshot = lease.snapshot();
            // the disk as the snapshot froze it: the file VDDK reads and the changeId left as token
            VirtualDiskInfo at = byKey(snapshot.disks(), named.key(), field, src.vm());
            Changes changes = changes(request, vim, snapshot, at);
            NbdDiskSource transport = path.open(field, settings, tools, session, snapshot, at);
            Lease held = lease;
            String token;
            try {
                token = snapshot.afterCrash() ? UNTRUSTED : leases.firstChangeId(held, at);
            } catch (IOException | RuntimeException e) {
                transport.close();
                throw e;
            }
            AtomicBoolean released = new AtomicBoolean();
            lease = null; // the source holds it now
            return new VmwareDiskSource(transport, changes.decision(), changes.areas(), token,
                    () -> leases.completed(held, at), () -> {
                        if (released.compareAndSet(false, true)) {
                            close(leases, held, session);
                        }
                    });
        } catch (VimFault.ManagedObjectNotFound e) {
            close(leases, lease, session);
            throw new InvalidInputException("source.vm", "VM '" + src.vm() + "' is gone from " + vcenter.describe()
                    + ": " + e.getMessage());
        } catch (IOException | RuntimeException e) {
            close(leases, lease, session);
            throw e;
        }
    }

    /** One disk is done with the job's snapshot (the last one removes it); logs out. */
    private static void close(JobSnapshotLeases leases, Lease lease, VsphereSession session) {
        if (lease != null) {
            leases.release(lease, session.vim());
        }
        session.close();
    }

    /**
     * Full or incremental and why ({@link ModeDecision}), then the CBT areas to copy: allocated
     * ({@code *}) for a full sync, changed since the token for an incremental one. A changeId
     * vCenter rejects is a full copy in {@code auto} and an error in {@code incremental}.
     */
    private static Changes changes(SourceRequest request, VimClient vim, JobSnapshot snapshot, VirtualDiskInfo at)
            throws IOException {
        ModeDecision.Decision decision = decide(request, snapshot, at);
        if (decision.full()) {
            return new Changes(decision, vim.queryChangedDiskAreas(snapshot.vm(), snapshot.snapshot(), at, "*"));
        }
        try {
            return new Changes(decision, vim.queryChangedDiskAreas(snapshot.vm(), snapshot.snapshot(), at,
                    decision.base()));
        } catch (VimFault.FileFault | VimFault.ChangeTrackingDisabled f) {
            String why = "vCenter rejected changeId '" + decision.base() + "' (" + f.faultType() + ")";
            if (request.requested() == CopyMode.INCREMENTAL) {
                throw ModeDecision.notIncremental(request.field(), why);
            }
            return new Changes(decision.fullBecause(why),
                    vim.queryChangedDiskAreas(snapshot.vm(), snapshot.snapshot(), at, "*"));
        }
    }

    private static ModeDecision.Decision decide(SourceRequest request, JobSnapshot snapshot, VirtualDiskInfo at) {
        boolean cbtEnabledNow = snapshot.cbtEnabledNow();
        return ModeDecision.decide(request, KIND, at.capacityInBytes(),
                List.of(t -> cbtEnabledNow ? Optional.of("change tracking was off on the VM (enabled it now)")
                        : Optional.empty()),
                List.of(t -> t.reference().equals(UNTRUSTED) ? Optional.of("the last sync of this disk was"
                                + " resumed after its process died, from a newer snapshot: what changed in between"
                                + " is unknown") : Optional.empty(),
                        t -> at.changeId() == null || !uuid(at.changeId()).equals(uuid(t.reference()))
                                ? Optional.of("CBT was reset on the disk (changeId '" + t.reference()
                                + "' is no longer valid)") : Optional.empty()),
                base -> "changeId '" + base + "'", request.field());
    }

    /**
     * How the disk's data is read: through VDDK ({@code libdir}), or from the local image
     * {@code source.datastore_map} maps its VMDK to ({@code image}). Checked before a snapshot is taken.
     */
    private record DataPath(Path libdir, Path image) {
        static DataPath of(JobSpec.Source src, VmwareSettings settings, String field, VirtualDiskInfo disk) {
            boolean viaVddk = src.datastoreMap() == null || src.datastoreMap().isEmpty();
            if (viaVddk) {
                return new DataPath(VddkSource.libdir(settings, field, disk.fileName()), null);
            }
            // the file the job's snapshot will freeze (checked there): the base, unless others' snapshots exist
            return new DataPath(null, mapped(src.datastoreMap(), disk.baseFileName(), field));
        }

        /**
         * Datastore-mapped mode reads a flat file as raw bytes: the snapshot must have frozen the
         * base disk. A disk already on a delta (snapshots someone else took) has its data spread
         * over a chain of sparse delta files, which only VDDK reads.
         */
        static void requireFlat(String field, VirtualDiskInfo disk) {
            if (disk.isDelta()) {
                throw new InvalidInputException(field, "disk " + disk.key() + " runs on the delta disk "
                        + disk.fileName() + " (of " + disk.baseFileName() + "; snapshots taken by others):"
                        + " source.datastore_map reads flat base disks only; read it through VDDK (omit"
                        + " source.datastore_map) or remove those snapshots");
            }
        }

        NbdDiskSource open(String field, VmwareSettings settings, LocalExport.Tools tools, VsphereSession session,
                           JobSnapshot snapshot, VirtualDiskInfo at) throws IOException {
            if (libdir != null) {
                return VddkSource.open(field, settings, libdir, tools, session.vim(), session.credentials(),
                        snapshot.vm(), snapshot.snapshot(), at.fileName());
            }
            requireFlat(field, at);
            tools.storage().checkPath(field, image, StoragePolicy.Access.READ); // before saying whether it exists
            if (!Files.isRegularFile(image)) {
                throw new InvalidInputException(field, "the mapped image " + image + " of " + at.fileName()
                        + " does not exist");
            }
            return NbdDiskSource.open(field, new DiskLocation.LocalImage(image), NbdOptions.DEFAULT, tools);
        }
    }

    /**
     * The disk named by {@code disk.source}: its device key, or a VMDK file name of its chain —
     * the base disk an operator knows, also when the VM runs on deltas of snapshots others took.
     */
    static VirtualDiskInfo find(List<VirtualDiskInfo> disks, JobSpec.Disk disk, String field, String vm) {
        for (VirtualDiskInfo d : disks) {
            if (String.valueOf(d.key()).equals(disk.source()) || d.chain().contains(disk.source())) {
                return d;
            }
        }
        throw new InvalidInputException(field, "VM '" + vm + "' has no disk '" + disk.source() + "' (its disks: "
                + describe(disks) + ")");
    }

    /** The snapshot's disk of device {@code key}: the snapshot froze every disk the VM had. */
    private static VirtualDiskInfo byKey(List<VirtualDiskInfo> disks, int key, String field, String vm) {
        return disks.stream().filter(d -> d.key() == key).findFirst().orElseThrow(() -> new InvalidInputException(
                field, "the snapshot of VM '" + vm + "' has no disk of key " + key + " (a disk removed while the"
                + " snapshot was taken?); its disks: " + describe(disks)));
    }

    private static String describe(List<VirtualDiskInfo> disks) {
        return String.join(", ", disks.stream().map(d -> d.baseFileName() + " (key " + d.key()
                + (d.isDelta() ? ", running on " + d.fileName() : "") + ")").toList());
    }

    /** Datastore-mapped mode: the longest {@code datastore_map} prefix of the VMDK name, replaced. */
    static Path mapped(Map<String, String> map, String fileName, String field) {
        Optional<Map.Entry<String, String>> best = map.entrySet().stream()
                .filter(e -> fileName.startsWith(e.getKey()))
                .max(Comparator.comparingInt(e -> e.getKey().length()));
        if (best.isEmpty()) {
            throw new InvalidInputException(field, "'" + fileName + "' is under no prefix of source.datastore_map ("
                    + String.join(", ", map.keySet()) + ")");
        }
        String rest = fileName.substring(best.get().getKey().length());
        String dir = best.get().getValue();
        return Path.of(dir.endsWith("/") || rest.isEmpty() ? dir + rest : dir + "/" + rest);
    }

    /** The UUID part of a changeId ({@code 52 ab .. /17}): it changes when CBT is reset. */
    static String uuid(String changeId) {
        int slash = changeId.lastIndexOf('/');
        return slash < 0 ? changeId : changeId.substring(0, slash);
    }
}
