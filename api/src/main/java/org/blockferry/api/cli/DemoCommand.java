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
import org.blockferry.engine.job.CopyMode;
import org.blockferry.engine.job.JobSettings;
import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.job.JobState;
import org.blockferry.engine.source.NbdDiskSource;
import org.blockferry.nbd.NbdOptions;
import org.blockferry.persistence.PersistenceSettings;
import org.blockferry.persistence.readside.JobRow;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code blockferry demo}: a sample two-disk VM replicated as a job, verified and summed up. */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Replicates a sample two-disk VM as a job and verifies it.", "",
            "Creates two sparse sample disks (data, zero runs, holes), runs one job that copies both",
            "at once with a progress bar per disk and one for the job, verifies both copies, and",
            "prints a summary. The job is persisted like any other (see 'blockferry jobs')."})
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
        out().println("BlockFerry demo: a sample VM with two disks in " + work);
        List<SampleDisks.Sample> samples = SampleDisks.create(work);
        List<JobSpec.Disk> disks = new ArrayList<>();
        for (SampleDisks.Sample s : samples) {
            Path copy = work.resolve(s.name() + "-copy.img");
            Files.deleteIfExists(copy);
            disks.add(new JobSpec.Disk(s.name(), s.path().toString(), copy.toString()));
        }
        JobSpec job = new JobSpec("demo-" + System.currentTimeMillis(), "demo-vm", null, disks, CopyMode.AUTO, null)
                .validated();
        try (Node node = Node.start(config, persistence, JobSettings.fromConfig(config))) {
            JobReply reply = node.jobs().submit(job).toCompletableFuture().get(60, TimeUnit.SECONDS);
            if (reply instanceof JobReply.Rejected r) {
                throw new IllegalStateException(r.message());
            }
            out().println("job " + job.jobId() + ": copying both disks at once");
            JobState last;
            try (ProgressBars bars = new ProgressBars(out(), () -> JobViews.bars(
                    node.jobs().get(job.jobId()).toCompletableFuture().join()))) {
                last = ReplicateCommand.awaitFinal(node, job.jobId());
            }
            if (last.status() != JobState.JobStatus.COMPLETED) {
                throw new IllegalStateException("the demo job " + last.status().json() + ": " + last.error());
            }
            JobRow row = ReplicateCommand.awaitReadSide(node, job.jobId());
            return verifyAndSummarize(node, samples, work, row);
        }
    }

    private int verifyAndSummarize(Node node, List<SampleDisks.Sample> samples, Path work, JobRow row)
            throws Exception {
        out().println();
        out().printf("%-8s %10s %10s %10s %10s %10s  %s%n", "disk", "capacity", "planned", "written", "zeroed",
                "skipped", "verify");
        boolean allEqual = true;
        var env = node.copyEnvironment();
        var settings = org.blockferry.engine.copy.CopySettings.fromConfig(node.system().settings().config());
        for (int i = 0; i < samples.size(); i++) {
            SampleDisks.Sample s = samples.get(i);
            JobRow.DiskRow d = row.disks().get(i);
            try (NbdDiskSource source = NbdDiskSource.open("source", new DiskLocation.LocalImage(s.path()),
                    NbdOptions.DEFAULT, env.tools());
                 NbdDiskSource copy = NbdDiskSource.open("copy", new DiskLocation.LocalImage(
                         work.resolve(s.name() + "-copy.img")), NbdOptions.DEFAULT, env.tools())) {
                DiskComparison.Outcome o = DiskComparison.run(source, copy, settings, env).toCompletableFuture()
                        .get(1, TimeUnit.HOURS);
                allEqual &= o.equal();
                out().printf("%-8s %10s %10s %10s %10s %10s  %s%n", d.diskId(), HumanBytes.format(d.capacity()),
                        HumanBytes.format(d.totalBytes()), HumanBytes.format(d.bytesWritten()),
                        HumanBytes.format(d.bytesZeroed()), HumanBytes.format(d.bytesSkipped()),
                        o.equal() ? "equal" : "DIFFERS at offset " + o.firstDifference());
            }
        }
        out().println();
        out().printf("job %s %s in %s: %s planned of %s capacity.%n", row.jobId(), row.status(),
                row.startedAt() != null && row.finishedAt() != null
                        ? String.format("%.2f s", java.time.Duration.between(row.startedAt(), row.finishedAt())
                        .toMillis() / 1000.0) : "-",
                HumanBytes.format(row.totalBytes()), HumanBytes.format(row.disks().stream()
                        .mapToLong(JobRow.DiskRow::capacity).sum()));
        out().println(allEqual
                ? "Both copies equal their sources. Progress counted planned (allocated) bytes, never capacity;"
                        + " holes were never read and zeros never sent as data."
                : "A copy differs from its source: see above.");
        return allEqual ? Cli.OK : Cli.FAILED;
    }

    private PrintWriter out() {
        return spec.commandLine().getOut();
    }
}
