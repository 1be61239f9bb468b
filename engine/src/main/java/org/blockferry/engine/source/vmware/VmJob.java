package org.blockferry.engine.source.vmware;

/**
 * One job on one VM: whose snapshot {@code blockferry-<job>} is, and what a later session of
 * the job needs (a background removal after the job's own sessions are gone logs in anew, with
 * the password the vCenter's file holds then).
 *
 * @param vcenter  the configured vCenter the job names
 * @param vmPath   the VM's inventory path
 * @param settings the node's {@code blockferry.vmware} settings (shutdown and cleanup timeouts, reply bound)
 */
record VmJob(Vcenter vcenter, String vmPath, String jobId, VmwareSettings settings) {

    /** The VM on this node: its vCenter (by URL: two names of one vCenter are one VM) and inventory path. */
    String vmKey() {
        return vcenter.url() + " " + vmPath;
    }

    /** The job's snapshot of the VM on this node. */
    String key() {
        return vmKey() + " " + jobId;
    }

    String snapshotName() {
        return "blockferry-" + jobId;
    }

    /** A session of the job's own, e.g. for a removal retried in the background. */
    VsphereSession session() throws java.io.IOException {
        return VsphereSession.open(vcenter, settings.maxReplyBytes());
    }
}
