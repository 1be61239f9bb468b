package org.blockferry.api.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.blockferry.api.node.Node;
import org.blockferry.engine.actor.JobReply;
import org.blockferry.engine.copy.DiskComparison;
import org.blockferry.engine.endpoint.DiskLocation;
import org.blockferry.engine.job.DiskState;
import org.blockferry.engine.job.JobSettings;
import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.job.JobState;
import org.blockferry.engine.plan.CopyMode;
import org.blockferry.engine.source.nbd.NbdDiskSource;
import org.blockferry.nbd.NbdOptions;
import org.blockferry.persistence.PersistenceSettings;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;

/** {@code blockferry demo}: a sample two-disk VM synced in full, changed by its "guest", synced again. */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Replicates a sample two-disk VM in full, then only what changed, and verifies it.", "",
            "Creates two sparse qcow2 sample disks (data, zero runs, holes) and runs the whole story as jobs:",
            "sync 1 copies both disks at once (a progress bar per disk and one for the job); then guest-like",
            "writes (qemu-io: data, zero writes, discards) change the images; sync 2 copies only what their",
            "dirty bitmaps mark as changed. Both copies are verified and each sync's bytes are printed.",
            "The jobs are persisted like any other (see 'blockferry jobs')."})
final class DemoCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--dir", paramLabel = "DIR",
            description = {"where the sample disks and copies go (default: DATA_DIR/demo, i.e.",
                "~/.blockferry/demo); with --dir the job database lives there too"})
    Path dir;

    @Override
    public Integer call() throws Exception {
        Config config = ConfigFactory.load();
        Path work = dir != null ? dir.toAbsolutePath() : Path.of(config.getString("blockferry.data-dir"), "demo");
        PersistenceSettings persistence = dir != null ? PersistenceSettings.h2(work.resolve("blockferry"), 4)
                : PersistenceSettings.fromConfig(config);
        out().println("BlockFerry demo: a sample VM with two qcow2 disks in " + work);
        List<SampleDisks.Sample> samples = SampleDisks.createQcow2(work, qemuImg(config));
        List<JobSpec.Disk> disks = new ArrayList<>();
        for (SampleDisks.Sample s : samples) {
            Path copy = work.resolve(s.name() + "-copy.img");
            Files.deleteIfExists(copy);
            disks.add(new JobSpec.Disk(s.name(), s.path().toString(), copy.toString()));
        }
        String run = Long.toString(System.currentTimeMillis());
        try (Node node = Node.start(config, persistence, JobSettings.fromConfig(config), Node.Access.OPERATOR)) {
            JobState first = sync(node, "demo-" + run + "-1", disks, "sync 1: both disks at once");
            out().println();
            out().println("guest writes (qemu-io) into both images:");
            for (SampleDisks.Sample s : samples) {
                out().println("  " + s.name() + ": " + SampleDisks.guestWrites(s, qemuIo(config)));
            }
            out().println();
            JobState second = sync(node, "demo-" + run + "-2", disks, "sync 2: only what changed");
            return verifyAndSummarize(node, samples, work, first, second);
        }
    }

    private JobState sync(Node node, String jobId, List<JobSpec.Disk> disks, String title) throws Exception {
        JobSpec job = new JobSpec(jobId, "demo-vm", new JobSpec.Source("qemu"), disks, CopyMode.AUTO, null)
                .validated();
        JobReply reply = node.jobs().submit(job).toCompletableFuture().get(60, TimeUnit.SECONDS);
        if (reply instanceof JobReply.Rejected r) {
            throw new org.blockferry.engine.endpoint.InvalidInputException(r.field() != null ? r.field() : "job_id",
                    r.message());
        }
        out().println(title + " (job " + jobId + ")");
        JobState last;
        try (ProgressBars bars = new ProgressBars(out(), () -> JobViews.bars(
                node.jobs().get(jobId).toCompletableFuture().join()))) {
            last = ReplicateCommand.awaitFinal(node, jobId);
        }
        if (last.status() != JobState.JobStatus.COMPLETED) {
            throw new IllegalStateException("the demo job " + jobId + " " + last.status().json() + ": " + last.error());
        }
        ReplicateCommand.awaitReadSide(node, jobId); // so that 'blockferry jobs' lists it from now on
        return last;
    }

    private static String qemuImg(Config config) {
        return config.getString("blockferry.local-export.qemu-img");
    }

    private static String qemuIo(Config config) {
        return Path.of(qemuImg(config)).resolveSibling("qemu-io").toString();
    }

    private int verifyAndSummarize(Node node, List<SampleDisks.Sample> samples, Path work, JobState first,
                                   JobState second) throws Exception {
        out().println();
        String format = "%-8s %10s  %-6s %10s %10s %10s  %-11s %10s %10s %10s %10s  %s%n";
        out().printf(format, "disk", "capacity", "sync 1", "planned", "written", "zeroed", "sync 2", "planned",
                "written", "zeroed", "NBD zero", "verify");
        boolean allEqual = true;
        var env = node.copyEnvironment();
        var settings = org.blockferry.engine.copy.CopySettings.fromConfig(node.system().settings().config());
        for (SampleDisks.Sample s : samples) {
            DiskState a = first.disk(s.name());
            DiskState b = second.disk(s.name());
            try (NbdDiskSource source = NbdDiskSource.open("source", new DiskLocation.LocalImage(s.path()),
                    NbdOptions.DEFAULT, env.tools());
                 NbdDiskSource copy = NbdDiskSource.open("copy", new DiskLocation.LocalImage(
                         work.resolve(s.name() + "-copy.img")), NbdOptions.DEFAULT, env.tools())) {
                DiskComparison.Outcome o = DiskComparison.run(source, copy, settings, env).toCompletableFuture()
                        .get(1, TimeUnit.HOURS);
                allEqual &= o.equal();
                out().printf(format, a.id(), HumanBytes.format(a.capacity()), a.mode().json(),
                        HumanBytes.format(a.plannedBytes()), HumanBytes.format(a.bytesWritten()),
                        HumanBytes.format(a.bytesZeroed()), b.mode().json(), HumanBytes.format(b.plannedBytes()),
                        HumanBytes.format(b.bytesWritten()), HumanBytes.format(b.bytesZeroed()),
                        HumanBytes.format(b.bytesZeroSent()),
                        o.equal() ? "equal" : "DIFFERS at offset " + o.firstDifference());
            }
        }
        out().println();
        out().println("NBD zero: bytes sync 2 made zero on the target with NBD zero requests (the guest's zero"
                + " writes and discards), never sent as data.");
        long capacity = first.disks().values().stream().mapToLong(DiskState::capacity).sum();
        out().printf("sync 1 (%s) moved %s of %s capacity in %s; sync 2 (%s) moved %s in %s.%n",
                modeOf(first), HumanBytes.format(first.totalBytes()), HumanBytes.format(capacity), took(first),
                modeOf(second), HumanBytes.format(second.totalBytes()), took(second));
        out().println(allEqual
                ? "Both copies equal their sources. Progress counted the bytes to move (allocated, then changed),"
                        + " never capacity; holes were never read and zeros never sent as data."
                : "A copy differs from its source: see above.");
        return allEqual ? Cli.OK : Cli.FAILED;
    }

    private static String modeOf(JobState s) {
        return s.disks().values().iterator().next().mode().json();
    }

    private static String took(JobState s) {
        long millis = s.elapsedMillis(s.finishedAt());
        return millis < 0 ? "-" : String.format(java.util.Locale.ROOT, "%.2f s", millis / 1000.0);
    }

    private PrintWriter out() {
        return spec.commandLine().getOut();
    }
}
