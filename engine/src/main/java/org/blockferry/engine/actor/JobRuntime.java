package org.blockferry.engine.actor;

import java.util.List;
import org.blockferry.engine.cloudstack.Clouds;
import org.blockferry.engine.cluster.JobOwnership;
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
 * commands; a serving node's configured policy, also for jobs it resumes), who owns a job
 * ({@link JobOwnership}: database leases in a node), the name of the node ("host:port") and the
 * clouds its jobs may provision volumes in.
 */
public record JobRuntime(CopyEnvironment copy, CopySettings copySettings, JobSettings jobs, VmwareSources vmware,
                         JobPeers peers, StoragePolicy storage, JobOwnership ownership, String node, Clouds clouds,
                         GuestConverter conversion) {

    /** One process alone: every job is owned here ({@link JobOwnership#LOCAL}), the node is called "local". */
    public JobRuntime(CopyEnvironment copy, CopySettings copySettings, JobSettings jobs, VmwareSources vmware,
                      JobPeers peers, StoragePolicy storage) {
        this(copy, copySettings, jobs, vmware, peers, storage, JobOwnership.LOCAL, "local", Clouds.of(List.of()),
                GuestConverter.NONE);
    }

    public JobRuntime withPeers(JobPeers p) {
        return new JobRuntime(copy, copySettings, jobs, vmware, p, storage, ownership, node, clouds, conversion);
    }

    /** The same runtime whose jobs are owned through {@code o}, on the cluster member {@code member}. */
    public JobRuntime withOwnership(JobOwnership o, String member) {
        return new JobRuntime(copy, copySettings, jobs, vmware, peers, storage, o, member, clouds, conversion);
    }

    /** The same runtime whose jobs may provision volumes in {@code c} ({@code blockferry.cloudstack.clouds}). */
    public JobRuntime withClouds(Clouds c) {
        return new JobRuntime(copy, copySettings, jobs, vmware, peers, storage, ownership, node, c, conversion);
    }

    /** The same runtime whose cutovers convert guests with {@code g}. */
    public JobRuntime withConversion(GuestConverter g) {
        return new JobRuntime(copy, copySettings, jobs, vmware, peers, storage, ownership, node, clouds, g);
    }

    /** The local export tools with this node's storage policy: what every disk of a job opens with. */
    public LocalExport.Tools tools() {
        return copy.tools().withStorage(storage);
    }
}
