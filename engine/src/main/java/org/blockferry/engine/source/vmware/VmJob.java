package org.blockferry.engine.source.vmware;

import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.source.vmware.vim.VsphereCredentials;

/**
 * One job on one VM: whose snapshot {@code blockferry-<job>} is, and what a later session of
 * the job needs (a background removal after the job's own sessions are gone).
 *
 * @param settings the node's {@code blockferry.vmware} settings (shutdown and cleanup timeouts)
 */
record VmJob(JobSpec.Source source, VsphereCredentials credentials, String jobId, VmwareSettings settings) {

    /** The VM on this node: its vCenter and inventory path. */
    String vmKey() {
        return source.url() + " " + source.vm();
    }

    /** The job's snapshot of the VM on this node. */
    String key() {
        return vmKey() + " " + jobId;
    }

    String snapshotName() {
        return "blockferry-" + jobId;
    }
}
