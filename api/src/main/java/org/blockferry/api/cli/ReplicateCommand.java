package org.blockferry.api.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.blockferry.api.node.Node;
import org.blockferry.engine.actor.JobReply;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.endpoint.StoragePolicy;
import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.job.JobSpecReader;
import org.blockferry.engine.job.JobState;
import org.blockferry.engine.plan.CopyMode;
import org.blockferry.engine.source.vmware.VcenterException;
import org.blockferry.engine.source.vmware.VmwareSettings;
import org.blockferry.engine.source.vmware.WholeVmJobs;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;

/** {@code blockferry replicate}: one job through the actor system, with progress, to its end. */
@Command(name = "replicate", mixinStandardHelpOptions = true,
        description = {"Runs a replication job to its end.", "",
            "The job is persisted (embedded H2 under the data directory, or PostgreSQL): if this process",
            "dies, running it again (or any node starting) resumes the job from each disk's checkpoint.",
            "Give a job file (JSON, see the README), or one disk with --vm, --source and --target.",
            "A vmware job file may leave its disks out and give target_template: every disk of the VM",
            "is synced, each target the template with {vm} and {disk_key} filled in.",
            "Running it again with the same job id shows (or resumes) the same job."})
final class ReplicateCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--job-file", paramLabel = "FILE", description = "the job spec (JSON)")
    Path jobFile;

    @Option(names = "--vm", paramLabel = "NAME", description = "the VM's name (one-disk job)")
    String vm;

    @Option(names = "--source", paramLabel = "SRC", description = "the disk's source: NBD URI or local image")
    String source;

    @Option(names = "--target", paramLabel = "DST", description = "the disk's target: NBD URI or local image")
    String target;

    @Option(names = "--disk", paramLabel = "ID", defaultValue = "disk0", description = "the disk's id (default disk0)")
    String diskId;

    @Option(names = "--job-id", paramLabel = "ID", description = "idempotency key: the same id is the same job")
    String jobId;

    @Option(names = "--mode", paramLabel = "MODE", description = "full, incremental or auto (default auto)")
    String mode;

    @Option(names = "--verify", description = "compare each target with its source after the copy")
    boolean verify;

    @Option(names = "--target-is-zero", description = "the targets read as zeros: never send zeros")
    boolean targetIsZero;

    @Option(names = "--json", description = "print the finished job as one JSON object, no progress bars")
    boolean json;

    @Override
    public Integer call() throws Exception {
        JobSpec job = wholeVm(spec()).validated();
        try (Node node = Node.start(ConfigFactory.load(), Node.Access.OPERATOR)) {
            JobReply reply = node.jobs().submit(job).toCompletableFuture().get(60, TimeUnit.SECONDS);
            if (reply instanceof JobReply.Rejected r) {
                throw new InvalidInputException(r.field() != null ? r.field() : "job_id", r.message());
            }
            if (!ownedHere(node, job.jobId())) {
                return Cli.FAILED;
            }
            JobState last;
            if (json) {
                last = awaitFinal(node, job.jobId());
            } else {
                out().println("job " + job.jobId() + " (vm " + job.vm() + ", " + job.disks().size() + " disk"
                        + (job.disks().size() == 1 ? "" : "s") + ")");
                try (ProgressBars bars = new ProgressBars(out(), () -> JobViews.bars(current(node, job.jobId())))) {
                    last = awaitFinal(node, job.jobId());
                }
            }
            var row = awaitReadSide(node, job.jobId());
            if (json) {
                out().println(JsonLine.of(JobViews.json(row)));
            } else {
                JobViews.printJob(out(), row);
            }
            if (last.status() != JobState.JobStatus.COMPLETED) {
                spec.commandLine().getErr().println("blockferry replicate: job " + job.jobId() + " " + last.status().json()
                        + (last.error() != null ? ": " + last.error() : ""));
                return Cli.FAILED;
            }
            return Cli.OK;
        }
    }

    /**
     * Whether this process runs the job. Another process may own it: one that died leaves its
     * lease to expire (this one then takes the job over); one that still renews it after the
     * lease's expiry is alive, and this command refuses rather than wait for it for hours.
     */
    private boolean ownedHere(Node node, String jobId) throws Exception {
        long deadline = System.nanoTime() + node.leaseExpiry().plusSeconds(3).toNanos();
        String told = null;
        while (true) {
            java.util.Optional<String> other = node.jobOwnerElsewhere(jobId);
            if (other.isEmpty() || current(node, jobId).status().isFinal()) {
                return true;
            }
            if (System.nanoTime() > deadline) {
                spec.commandLine().getErr().println("blockferry replicate: job " + jobId + " runs in another process,"
                        + " which is alive: " + other.get() + ". Watch it with: blockferry job " + jobId
                        + " (or stop that process and run this command again to take the job over)");
                return false;
            }
            if (!other.get().equals(told)) {
                told = other.get();
                spec.commandLine().getErr().println("blockferry replicate: job " + jobId + " is owned by another"
                        + " process (" + told + "); waiting up to " + node.leaseExpiry().plusSeconds(3).toSeconds()
                        + " s for it to give the job up");
                spec.commandLine().getErr().flush();
            }
            Thread.sleep(500);
        }
    }

    private JobSpec spec() throws IOException {
        if (jobFile != null) {
            if (vm != null || source != null || target != null) {
                throw new InvalidInputException("--job-file", "give either a job file or --vm/--source/--target");
            }
            if (!Files.isRegularFile(jobFile)) {
                throw new InvalidInputException("--job-file", jobFile + " does not exist");
            }
            JobSpec fromFile = JobSpecReader.read(Files.readAllBytes(jobFile),
                    JobSpecReader.maxDisks(ConfigFactory.load()));
            return jobId == null ? fromFile : fromFile.withJobId(jobId);
        }
        if (vm == null || source == null || target == null) {
            throw new InvalidInputException("--job-file", "give a job file, or all of --vm, --source and --target");
        }
        // A job holds absolute paths (it may resume in another process, elsewhere): resolve here.
        return new JobSpec(jobId, vm, null, List.of(new JobSpec.Disk(diskId, absolute(source), absolute(target))),
                mode == null ? null : CopyMode.parse(mode), new JobSpec.Options(0, verify, targetIsZero, false));
    }

    /**
     * A whole-VM job file (target_template, no disks) with the VM's disks from vCenter, as the
     * API expands it; any other spec as it is. The operator's command: no storage policy.
     */
    private static JobSpec wholeVm(JobSpec spec) throws VcenterException {
        if (!spec.wholeVm()) {
            return spec;
        }
        Config config = ConfigFactory.load();
        return new WholeVmJobs(VmwareSettings.fromConfig(config), StoragePolicy.UNRESTRICTED)
                .expand(spec, JobSpecReader.maxDisks(config));
    }

    private static String absolute(String location) {
        if (location.contains("://") || location.isBlank() || location.indexOf('\0') >= 0) {
            return location;
        }
        return Path.of(location).toAbsolutePath().normalize().toString();
    }

    private static JobState current(Node node, String id) {
        try {
            return node.jobs().get(id).toCompletableFuture().get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * A pause between two looks at a job that grows with the time waited: 10 ms at first (a short
     * job's end is seen at once; the process's whole run is often under two seconds), one twentieth of
     * the time waited later, at most {@code max} (a long copy is not slowed by the asking).
     */
    static void pollPause(long startedNanos, long maxMillis) throws InterruptedException {
        long waited = (System.nanoTime() - startedNanos) / 1_000_000;
        Thread.sleep(Math.max(10, Math.min(maxMillis, waited / 20)));
    }

    static JobState awaitFinal(Node node, String id) throws InterruptedException {
        long started = System.nanoTime();
        while (true) {
            try {
                JobState s = node.jobs().get(id).toCompletableFuture().get(30, TimeUnit.SECONDS);
                if (s.status().isFinal()) {
                    return s;
                }
            } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                // the entity is (re)starting: ask again
            }
            pollPause(started, 200);
        }
    }

    static org.blockferry.engine.job.JobDocument awaitReadSide(Node node, String id) throws Exception {
        long started = System.nanoTime();
        long deadline = started + Duration.ofSeconds(30).toNanos();
        while (true) {
            var row = node.queries().get(id);
            if (row.isPresent() && (row.get().ended() || System.nanoTime() > deadline)) {
                return row.get();
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the read side does not show job " + id + " after 30 s");
            }
            pollPause(started, 100);
        }
    }

    private PrintWriter out() {
        return spec.commandLine().getOut();
    }
}
