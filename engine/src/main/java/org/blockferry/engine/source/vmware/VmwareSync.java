package org.blockferry.engine.source.vmware;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.blockferry.engine.endpoint.DiskLocation;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.endpoint.LocalExport;
import org.blockferry.engine.plan.CopyMode;
import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.source.DiskSource;
import org.blockferry.engine.source.ModeDecision;
import org.blockferry.engine.source.SourceRequest;
import org.blockferry.engine.source.nbd.NbdDiskSource;
import org.blockferry.engine.plan.ChangedArea;
import org.blockferry.engine.source.vmware.vim.ManagedObject;
import org.blockferry.engine.source.vmware.vim.VimClient;
import org.blockferry.engine.source.vmware.vim.VimFault;
import org.blockferry.engine.source.vmware.vim.VimTls;
import org.blockferry.engine.source.vmware.vim.VirtualDiskInfo;
import org.blockferry.engine.source.vmware.vim.VsphereCredentials;
import org.blockferry.nbd.NbdOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sync of one disk of a vSphere VM with Changed Block Tracking.
 *
 * <p>Each disk sync logs in with its own session. The disks of a job share ONE snapshot,
 * {@code blockferry-<job>}, so they are copied as of the same moment: the first disk to start
 * enables CBT on the VM if it is off and takes it, later disks of the job (and retries) on this
 * node join it, and the last disk to close removes it, whether it succeeded, failed or was
 * cancelled. (With {@code max_parallel_disks} below the disk count, a disk that starts after
 * all earlier ones ended takes a new snapshot: still correct, a later moment.) Each disk's
 * changeId read right after the snapshot, under the VM's lock, is the token the next sync asks
 * "changed since" with. A full sync copies the areas of changeId {@code *} (allocated) and
 * zeroes the rest of the target; an incremental one copies the areas changed since the stored
 * changeId. A reset CBT (another UUID part) or a changeId vCenter rejects (FileFault) means a
 * full copy in mode {@code auto} and an error in mode {@code incremental}.
 *
 * <p>Data path: without {@code source.datastore_map}, the snapshot's disk is read through
 * {@code nbdkit vddk} ({@link VddkSource}). With it (datastore-mapped mode, for labs and tests)
 * the VMDK's file name ({@code [ds] dir/disk.vmdk}) is mapped to a local flat raw image, read
 * through nbdkit's {@code file} plugin. Either way only the CBT areas are read.
 */
public final class VmwareSync {
    private static final Logger log = LoggerFactory.getLogger(VmwareSync.class);
    private static final Map<String, Object> VM_LOCKS = new ConcurrentHashMap<>();
    /** Which job of this node last enabled CBT on a VM: its other disks say so too. */
    private static final Map<String, String> ENABLED_BY = new ConcurrentHashMap<>();

    private VmwareSync() {
    }

    /** The job's snapshot on a VM, shared by the job's disks on this node while any of them holds it. */
    private static final class JobSnapshot {
        final String key;
        final ManagedObject vm;
        final ManagedObject snapshot;
        final List<VirtualDiskInfo> disks; // as of the snapshot: their changeIds are the next tokens
        final boolean cbtEnabledNow;
        final boolean afterCrash; // an earlier snapshot of this job was left by a process that died
        int holders = 1;

        JobSnapshot(String key, ManagedObject vm, ManagedObject snapshot, List<VirtualDiskInfo> disks,
                    boolean cbtEnabledNow, boolean afterCrash) {
            this.key = key;
            this.vm = vm;
            this.snapshot = snapshot;
            this.disks = disks;
            this.cbtEnabledNow = cbtEnabledNow;
            this.afterCrash = afterCrash;
        }
    }

    /** Guarded by the VM's lock in {@link #VM_LOCKS}. */
    private static final Map<String, JobSnapshot> SNAPSHOTS = new ConcurrentHashMap<>();
    /**
     * A disk's changeId at the first snapshot of its job on this node. A retry resumes from its
     * checkpoint with data from a newer snapshot, so what changed below the checkpoint in between
     * is only covered if the token stays the first snapshot's changeId.
     */
    private static final Map<String, String> FIRST_CHANGE_IDS = new ConcurrentHashMap<>();
    /** The token reference after a resume across a crash: the next sync must be full. */
    static final String UNTRUSTED = "untrusted-after-crash";
    static final String KIND = "vmware";
    /** Opens one disk of the VM in {@code request} for one sync (see the class comment). */
    public static DiskSource open(SourceRequest request, LocalExport.Tools tools, VmwareSettings settings)
            throws IOException {
        JobSpec.Source src = request.source();
        JobSpec.Disk disk = request.disk();
        String jobId = request.jobId();
        String field = request.field();
        VsphereCredentials credentials = credentials(src);
        VimClient vim = connect(src, credentials);
        Cleanup cleanup = new Cleanup(src, credentials, settings.snapshotCleanupTimeout());
        JobSnapshot held = null;
        try {
            ManagedObject vm = vim.findByInventoryPath(src.vm()).orElseThrow(() -> new InvalidInputException(
                    "source.vm", "no VM at inventory path '" + src.vm() + "' on " + src.url()));
            String vmdk = find(vim.virtualDisks(vm), disk, field, src.vm()).fileName();
            boolean viaVddk = src.datastoreMap() == null || src.datastoreMap().isEmpty();
            Path image = viaVddk ? null : mapped(src.datastoreMap(), vmdk, field);
            Path libdir = viaVddk ? VddkSource.libdir(settings, field, vmdk) : null; // fails before a snapshot
            held = acquire(vim, vm, jobId, request.finalSync(), settings.shutdownTimeout(), cleanup);
            VirtualDiskInfo at = find(held.disks, disk, field, src.vm());
            boolean cbtEnabledNow = held.cbtEnabledNow;
            ModeDecision.Decision decision = ModeDecision.decide(request, KIND, at.capacityInBytes(),
                    List.of(t -> cbtEnabledNow ? Optional.of("change tracking was off on the VM (enabled it now)")
                            : Optional.empty()),
                    List.of(t -> t.reference().equals(UNTRUSTED) ? Optional.of("the last sync of this disk was"
                                    + " resumed after its process died, from a newer snapshot: what changed in between"
                                    + " is unknown") : Optional.empty(),
                            t -> at.changeId() == null || !uuid(at.changeId()).equals(uuid(t.reference()))
                                    ? Optional.of("CBT was reset on the disk (changeId '" + t.reference()
                                    + "' is no longer valid)") : Optional.empty()),
                    base -> "changeId '" + base + "'", field);
            List<ChangedArea> areas;
            if (!decision.full()) {
                try {
                    areas = vim.queryChangedDiskAreas(vm, held.snapshot, at, decision.base());
                } catch (VimFault.FileFault | VimFault.ChangeTrackingDisabled f) {
                    String why = "vCenter rejected changeId '" + decision.base() + "' (" + f.faultType() + ")";
                    if (request.requested() == CopyMode.INCREMENTAL) {
                        throw ModeDecision.notIncremental(field, why);
                    }
                    decision = decision.fullBecause(why);
                    areas = vim.queryChangedDiskAreas(vm, held.snapshot, at, "*");
                }
            } else {
                areas = vim.queryChangedDiskAreas(vm, held.snapshot, at, "*");
            }
            NbdDiskSource source;
            if (viaVddk) {
                source = VddkSource.open(field, settings, libdir, tools, vim, credentials, vm, held.snapshot,
                        at.fileName());
            } else if (!Files.isRegularFile(image)) {
                throw new InvalidInputException(field, "the mapped image " + image + " of " + at.fileName()
                        + " does not exist");
            } else {
                source = NbdDiskSource.open(field, new DiskLocation.LocalImage(image), NbdOptions.DEFAULT, tools);
            }
            String firstKey = held.key + " " + at.key();
            String token = held.afterCrash ? UNTRUSTED : FIRST_CHANGE_IDS.computeIfAbsent(firstKey, k -> at.changeId());
            JobSnapshot snap = held;
            AtomicBoolean released = new AtomicBoolean();
            held = null; // the source holds it now
            return new VmwareDiskSource(source, decision, areas, token, () -> FIRST_CHANGE_IDS.remove(firstKey), () -> {
                if (released.compareAndSet(false, true)) {
                    release(vim, snap, jobId, cleanup);
                }
            });
        } catch (VimFault.ManagedObjectNotFound e) {
            release(vim, held, jobId, cleanup);
            throw new InvalidInputException("source.vm", "VM '" + src.vm() + "' is gone from " + src.url()
                    + ": " + e.getMessage());
        } catch (IOException | RuntimeException e) {
            release(vim, held, jobId, cleanup);
            throw e;
        }
    }

    /**
     * The job's snapshot of the VM: the one another disk of the job holds, or a new one (after
     * enabling CBT if it is off). The disks' changeIds are read right after it is taken, under
     * the VM's lock, so no other snapshot of this node falls in between.
     */
    private static JobSnapshot acquire(VimClient vim, ManagedObject vm, String jobId, boolean finalSync,
                                       Duration shutdownTimeout, Cleanup cleanup) throws IOException {
        JobSpec.Source src = cleanup.src();
        String vmKey = src.url() + " " + src.vm();
        String key = vmKey + " " + jobId;
        synchronized (VM_LOCKS.computeIfAbsent(vmKey, k -> new Object())) {
            JobSnapshot shared = SNAPSHOTS.get(key);
            if (shared != null) {
                shared.holders++;
                return shared;
            }
            boolean enabled = false;
            if (!vim.changeTrackingEnabled(vm)) {
                vim.enableChangeTracking(vm);
                enabled = true;
                ENABLED_BY.put(vmKey, jobId);
                log.info("event=cbt-enabled vm={} job={}", src.vm(), jobId);
            } else if (jobId.equals(ENABLED_BY.get(vmKey))) {
                enabled = true; // by this job a moment ago, before a disk's retry
            }
            if (finalSync) {
                shutDown(vim, vm, src, jobId, shutdownTimeout);
            }
            String name = "blockferry-" + jobId;
            List<ManagedObject> orphans = vim.snapshotsNamed(vm, name);
            for (ManagedObject orphan : orphans) {
                // this job's snapshot from a process that died before removing it: no disk holds it now
                log.info("event=snapshot-orphan vm={} job={} snapshot={}", src.vm(), jobId, orphan.value());
                remove(vim, orphan, jobId, cleanup);
            }
            ManagedObject snapshot = vim.createSnapshot(vm, name,
                    "BlockFerry job " + jobId + "; removed when its disks' syncs end", false);
            log.info("event=snapshot-created vm={} job={} snapshot={}", src.vm(), jobId, snapshot.value());
            JobSnapshot created;
            try {
                created = new JobSnapshot(key, vm, snapshot, vim.virtualDisks(vm), enabled, !orphans.isEmpty());
            } catch (IOException | RuntimeException e) {
                remove(vim, snapshot, jobId, cleanup);
                throw e;
            }
            SNAPSHOTS.put(key, created);
            return created;
        }
    }

    /**
     * The cutover ({@code options.final_sync}): asks the guest OS to shut down, waits up to
     * {@code blockferry.vmware.shutdown-timeout} for the VM to be poweredOff, then powers it off.
     * A VM already off is left as it is (a retry of the job's disk, or a second final sync).
     */
    private static void shutDown(VimClient vim, ManagedObject vm, JobSpec.Source src, String jobId,
                                 Duration shutdownTimeout) throws IOException {
        if ("poweredOff".equals(vim.powerState(vm))) {
            return;
        }
        Duration timeout = shutdownTimeout;
        try {
            vim.shutdownGuest(vm);
            log.info("event=guest-shutdown vm={} job={} timeout={}", src.vm(), jobId, timeout);
        } catch (VimFault.NotAuthenticated | VimFault.InvalidLogin | VimFault.ManagedObjectNotFound f) {
            throw f; // not about the guest
        } catch (VimFault f) { // no VMware Tools in the guest, for one: power it off
            log.warn("event=guest-shutdown-refused vm={} job={} fault={} error={}", src.vm(), jobId, f.faultType(),
                    f.getMessage());
            timeout = Duration.ZERO;
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!"poweredOff".equals(vim.powerState(vm))) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                log.warn("event=power-off vm={} job={} reason=guest-not-off-after-{}", src.vm(), jobId, timeout);
                vim.powerOff(vm);
                break;
            }
            try {
                Thread.sleep(Math.max(1, Math.min(TimeUnit.NANOSECONDS.toMillis(left), 500)));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while waiting for VM '" + src.vm() + "' to shut down");
            }
        }
        log.info("event=vm-powered-off vm={} job={}", src.vm(), jobId);
    }

    /** What a snapshot removal that failed needs to be tried again later, with a session of its own. */
    private record Cleanup(JobSpec.Source src, VsphereCredentials credentials, Duration timeout) {
    }

    /**
     * Retries snapshot removals that failed (vCenter unreachable when the job's last disk ended):
     * one daemon thread, so the removal does not hold up the job, which has its data.
     */
    private static final ScheduledExecutorService CLEANUP = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "vmware-snapshot-cleanup");
        t.setDaemon(true);
        return t;
    });
    private static final Duration FIRST_RETRY = Duration.ofSeconds(2);
    private static final Duration LONGEST_RETRY = Duration.ofMinutes(1);

    /** One disk is done with the job's snapshot; the last one removes it. Logs out. */
    private static void release(VimClient vim, JobSnapshot held, String jobId, Cleanup cleanup) {
        if (held != null) {
            String vmKey = held.key.substring(0, held.key.length() - jobId.length() - 1);
            synchronized (VM_LOCKS.computeIfAbsent(vmKey, k -> new Object())) {
                if (--held.holders == 0) {
                    SNAPSHOTS.remove(held.key, held);
                    remove(vim, held.snapshot, jobId, cleanup);
                }
            }
        }
        logout(vim);
    }

    private static void logout(VimClient vim) {
        try {
            vim.close();
        } catch (IOException | RuntimeException e) {
            log.debug("event=vsphere-logout-failed error={}", e.getMessage());
        }
    }

    /**
     * Removes a snapshot; if vCenter does not answer, keeps trying in the background (2 s, then
     * doubling up to 1 min apart) for {@code blockferry.vmware.snapshot-cleanup-timeout}. A next
     * run of the job also removes it (as an orphan).
     */
    private static void remove(VimClient vim, ManagedObject snapshot, String jobId, Cleanup cleanup) {
        String vmPath = cleanup.src().vm();
        try {
            vim.removeSnapshot(snapshot);
            log.info("event=snapshot-removed vm={} job={} snapshot={}", vmPath, jobId, snapshot.value());
        } catch (VimFault.ManagedObjectNotFound gone) {
            log.info("event=snapshot-gone vm={} job={} snapshot={}", vmPath, jobId, snapshot.value());
        } catch (IOException | RuntimeException e) {
            long deadline = System.nanoTime() + cleanup.timeout().toNanos();
            retryLater(snapshot, jobId, cleanup, deadline, FIRST_RETRY, e);
        }
    }

    private static void retryLater(ManagedObject snapshot, String jobId, Cleanup cleanup, long deadline,
                                   Duration delay, Exception failure) {
        String vmPath = cleanup.src().vm();
        String error = failure.getMessage() != null ? failure.getMessage() : failure.toString();
        if (System.nanoTime() + delay.toNanos() > deadline) {
            log.error("event=snapshot-remove-gave-up vm={} job={} snapshot={} name=blockferry-{} error={}"
                    + " action=\"run the job again or remove the snapshot in vCenter\"", vmPath, jobId,
                    snapshot.value(), jobId, error);
            return;
        }
        log.warn("event=snapshot-remove-failed vm={} job={} snapshot={} retry_in={} error={}", vmPath, jobId,
                snapshot.value(), delay, error);
        CLEANUP.schedule(() -> {
            VimClient vim = null;
            try {
                vim = connect(cleanup.src(), cleanup.credentials());
                vim.removeSnapshot(snapshot);
                log.info("event=snapshot-removed vm={} job={} snapshot={} late=true", vmPath, jobId, snapshot.value());
            } catch (VimFault.ManagedObjectNotFound gone) {
                log.info("event=snapshot-gone vm={} job={} snapshot={}", vmPath, jobId, snapshot.value());
            } catch (IOException | RuntimeException e) {
                Duration next = delay.multipliedBy(2).compareTo(LONGEST_RETRY) > 0 ? LONGEST_RETRY : delay.multipliedBy(2);
                retryLater(snapshot, jobId, cleanup, deadline, next, e);
            } finally {
                if (vim != null) {
                    logout(vim);
                }
            }
        }, delay.toMillis(), TimeUnit.MILLISECONDS);
    }

    private static VsphereCredentials credentials(JobSpec.Source src) {
        try {
            return src.passwordFile() != null
                    ? VsphereCredentials.fromFile(src.user(), Path.of(src.passwordFile()))
                    : VsphereCredentials.fromEnvironment(src.user(), src.passwordEnv());
        } catch (IOException e) {
            throw new InvalidInputException("source.password_file", "cannot read " + src.passwordFile() + ": " + e);
        } catch (IllegalArgumentException e) {
            throw new InvalidInputException(src.passwordFile() != null ? "source.password_file" : "source.password_env",
                    e.getMessage());
        }
    }

    private static VimClient connect(JobSpec.Source src, VsphereCredentials credentials) throws IOException {
        URI sdk = URI.create(src.url());
        VimTls tls;
        try {
            tls = !"https".equals(sdk.getScheme()) ? null : src.thumbprint() != null
                    ? VimTls.pinnedThumbprint(src.thumbprint()) : src.insecure() ? VimTls.insecure() : VimTls.systemTrust();
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot set up TLS for " + sdk + ": " + e.getMessage(), e);
        }
        try {
            return VimClient.connect(sdk, credentials, tls);
        } catch (VimFault.InvalidLogin e) {
            throw new InvalidInputException("source.user", "vCenter " + sdk + " refused the login of '" + src.user()
                    + "' (InvalidLogin: wrong user name or password)");
        } catch (IOException e) {
            for (Throwable t = e; t != null; t = t.getCause()) {
                if (t instanceof javax.net.ssl.SSLException) { // not transient: retrying will not change the certificate
                    throw new InvalidInputException(src.thumbprint() != null ? "source.thumbprint" : "source.url",
                            "the TLS handshake with " + sdk + " failed (" + t.getMessage() + "): "
                            + (src.thumbprint() != null ? "vCenter's certificate does not match the pinned thumbprint"
                            : "vCenter's certificate is not trusted; pin it with source.thumbprint"));
                }
            }
            if (e instanceof VimFault) {
                throw e;
            }
            throw new IOException("cannot reach vCenter " + sdk + ": " + (e.getMessage() != null ? e.getMessage()
                    : e.getClass().getSimpleName()), e);
        }
    }

    /** The disk named by {@code disk.source}: its VMDK file name or device key. */
    private static VirtualDiskInfo find(List<VirtualDiskInfo> disks, JobSpec.Disk disk, String field, String vm) {
        for (VirtualDiskInfo d : disks) {
            if (d.fileName().equals(disk.source()) || String.valueOf(d.key()).equals(disk.source())) {
                return d;
            }
        }
        List<String> names = disks.stream().map(d -> d.fileName() + " (key " + d.key() + ")").toList();
        throw new InvalidInputException(field, "VM '" + vm + "' has no disk '" + disk.source() + "' (its disks: "
                + String.join(", ", names) + ")");
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
