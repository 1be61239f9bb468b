package org.blockferry.engine.source.vmware;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.blockferry.engine.endpoint.DiskLocation;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.endpoint.StoragePolicy;
import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.job.TargetTemplate;
import org.blockferry.engine.source.vmware.vim.ManagedObject;
import org.blockferry.engine.source.vmware.vim.VimClient;
import org.blockferry.engine.source.vmware.vim.VimFault;
import org.blockferry.engine.source.vmware.vim.VirtualDiskInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns a whole-VM job ({@code target_template}, no {@code disks}) into a job that lists every
 * virtual disk of its VM as vCenter reports it now: id and source the disk's device key, target
 * the template filled in and held to the node's storage policy, as a target given by hand is.
 * Used where jobs are submitted, before they are validated and persisted: the HTTP API and
 * {@code blockferry replicate}.
 */
public final class WholeVmJobs {
    private static final Logger log = LoggerFactory.getLogger(WholeVmJobs.class);

    private final VmwareSettings settings;
    private final StoragePolicy storage;

    /** {@code storage}: what the submitting node's jobs may write. */
    public WholeVmJobs(VmwareSettings settings, StoragePolicy storage) {
        this.settings = settings;
        this.storage = storage;
    }

    /**
     * {@code spec} with its VM's disks in place of its template; {@code spec} itself when it has
     * no template. Logs in to the vCenter the job names and out again: it blocks, call it where
     * a thread may wait on vCenter. A fault of the job (a field, the VM, its disks, an expanded
     * target) is an {@link InvalidInputException} naming the field; one of vCenter is a
     * {@link VcenterException}.
     *
     * @param maxDisks the most disks a job may have ({@code blockferry.jobs.max-disks-per-job})
     */
    public JobSpec expand(JobSpec spec, int maxDisks) throws VcenterException {
        if (!spec.wholeVm()) {
            return spec;
        }
        JobSpec checked = spec.validatedWholeVm();
        JobSpec.Source source = checked.source();
        // a cloudstack target names its volumes itself (JobSpec#validated fills them in)
        TargetTemplate template = checked.targetTemplate() == null ? null
                : TargetTemplate.of(checked.targetTemplate(), source.vm());
        Vcenter vcenter = settings.vcenters().named(source.vcenter());
        List<VirtualDiskInfo> found = virtualDisks(vcenter, source.vm());
        if (found.isEmpty()) {
            throw new InvalidInputException("source.vm", "VM '" + source.vm() + "' on " + vcenter.describe()
                    + " has no virtual disk: nothing to sync");
        }
        if (found.size() > maxDisks) {
            throw new InvalidInputException("source.vm", "VM '" + source.vm() + "' has " + found.size()
                    + " virtual disks; a job may have at most " + maxDisks + " (blockferry.jobs.max-disks-per-job)");
        }
        List<JobSpec.Disk> disks = new ArrayList<>();
        for (VirtualDiskInfo d : found) {
            String target = template == null ? null : template.expand(d.key());
            if (target != null) {
                storage.checkLocation(TargetTemplate.FIELD, DiskLocation.parse(TargetTemplate.FIELD, target),
                        StoragePolicy.Access.WRITE);
            }
            String key = String.valueOf(d.key());
            disks.add(new JobSpec.Disk(key, key, target));
        }
        log.info("event=whole-vm-expanded job={} vcenter={} vm={} disks={}", checked.jobId(), vcenter.name(),
                source.vm(), disks.size());
        return checked.withDisks(disks);
    }

    /** The VM's virtual disks, in vCenter's order; one session, logged out at the end. */
    private List<VirtualDiskInfo> virtualDisks(Vcenter vcenter, String path) throws VcenterException {
        try (VsphereSession session = VsphereSession.open(vcenter, settings.maxReplyBytes())) {
            VimClient vim = session.vim();
            ManagedObject vm = vim.findByInventoryPath(path).orElseThrow(() -> new InvalidInputException(
                    "source.vm", "no VM at inventory path '" + path + "' on " + vcenter.describe()));
            if (!vm.type().equals("VirtualMachine")) {
                throw new InvalidInputException("source.vm", "'" + path + "' on " + vcenter.describe() + " is a "
                        + vm.type() + ", not a VM");
            }
            return vim.virtualDisks(vm);
        } catch (VimFault.ManagedObjectNotFound e) {
            throw new InvalidInputException("source.vm", "VM '" + path + "' is gone from " + vcenter.describe());
        } catch (InvalidInputException e) {
            if (e.field().startsWith("source.")) {
                throw e;
            }
            // the node's own setting (login, certificate, password file): the client can do nothing about it
            throw new VcenterException(VcenterException.Kind.REFUSED, e.getMessage(), e);
        } catch (VimFault e) {
            throw new VcenterException(VcenterException.Kind.REFUSED, vcenter.describe() + " refused to list the"
                    + " disks of VM '" + path + "': " + e.getMessage(), e);
        } catch (IOException e) {
            String why = String.valueOf(e.getMessage());
            throw new VcenterException(VcenterException.Kind.UNREACHABLE, "cannot list the disks of VM '" + path
                    + "': " + (why.contains(vcenter.describe()) ? why : vcenter.describe() + ": " + why), e);
        }
    }
}
