package org.blockferry.engine.actor;

import org.blockferry.engine.copy.CopyEnvironment;
import org.blockferry.engine.copy.CopySettings;
import org.blockferry.engine.job.JobSettings;
import org.blockferry.engine.source.vmware.VmwareSources;

/**
 * What the job actors need from their node: the copy environment and settings, how jobs run,
 * the vmware sources, and the actors a job talks to ({@link JobPeers}).
 */
public record JobRuntime(CopyEnvironment copy, CopySettings copySettings, JobSettings jobs, VmwareSources vmware,
                         JobPeers peers) {

    public JobRuntime withPeers(JobPeers p) {
        return new JobRuntime(copy, copySettings, jobs, vmware, p);
    }
}
