package org.blockferry.engine.actor;

import org.blockferry.engine.copy.CopyEnvironment;
import org.blockferry.engine.copy.CopySettings;
import org.blockferry.engine.endpoint.LocalExport;
import org.blockferry.engine.endpoint.StoragePolicy;
import org.blockferry.engine.job.JobSettings;
import org.blockferry.engine.source.vmware.VmwareSources;

/**
 * What the job actors need from their node: the copy environment and settings, how jobs run,
 * the vmware sources, the actors a job talks to ({@link JobPeers}), and the storage policy every
 * job of the node runs under ({@link StoragePolicy#UNRESTRICTED} for the local operator's
 * commands; a serving node's configured policy, also for jobs it resumes).
 */
public record JobRuntime(CopyEnvironment copy, CopySettings copySettings, JobSettings jobs, VmwareSources vmware,
                         JobPeers peers, StoragePolicy storage) {

    public JobRuntime withPeers(JobPeers p) {
        return new JobRuntime(copy, copySettings, jobs, vmware, p, storage);
    }

    /** The local export tools with this node's storage policy: what every disk of a job opens with. */
    public LocalExport.Tools tools() {
        return copy.tools().withStorage(storage);
    }
}
