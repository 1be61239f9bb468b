package org.blockferry.api.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.blockferry.engine.copy.CopyEnvironment;
import org.blockferry.engine.copy.CopyJob;
import org.blockferry.engine.copy.CopyProgress;
import org.blockferry.engine.copy.CopyResult;
import org.blockferry.engine.copy.DiskComparison;
import org.blockferry.engine.copy.DiskCopy;
import org.blockferry.engine.endpoint.DiskLocation;
import org.blockferry.engine.source.NbdDiskSource;
import org.blockferry.engine.target.NbdDiskTarget;
import org.blockferry.nbd.NbdOptions;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code blockferry demo}: a sample two-disk VM copied, verified and summed up. */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Copies a sample two-disk VM and verifies it.", "",
            "Creates two sparse sample disks (data, zero runs, holes), copies both at once",
            "with a progress bar each, verifies both copies, and prints a summary."})
final class DemoCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--dir", paramLabel = "DIR",
            description = "where the sample disks and copies go (default: DATA_DIR/demo, i.e. ~/.blockferry/demo)")
    Path dir;

    @Override
    public Integer call() throws Exception {
        try (CliContext context = new CliContext()) {
            Path work = dir != null ? dir : Path.of(context.config().getString("blockferry.data-dir"), "demo");
            out().println("BlockFerry demo: a sample VM with two disks in " + work);
            List<SampleDisks.Sample> samples = SampleDisks.create(work);
            CopyEnvironment env = context.environment();
            List<NbdDiskSource> sources = new ArrayList<>();
            List<NbdDiskTarget> targets = new ArrayList<>();
            List<DiskCopy> copies = new ArrayList<>();
            try {
                for (SampleDisks.Sample s : samples) {
                    Path copyPath = work.resolve(s.name() + "-copy.img");
                    Files.deleteIfExists(copyPath);
                    NbdDiskSource src = NbdDiskSource.open(s.name(), new DiskLocation.LocalImage(s.path()),
                            NbdOptions.DEFAULT, env.tools());
                    sources.add(src);
                    NbdDiskTarget dst = NbdDiskTarget.open(s.name() + "-copy", new DiskLocation.LocalImage(copyPath),
                            s.size(), NbdOptions.DEFAULT, env.tools());
                    targets.add(dst);
                }
                out().println("copying both disks at once:");
                List<Supplier<CopyProgress>> bars = new ArrayList<>();
                for (int i = 0; i < samples.size(); i++) {
                    DiskCopy copy = DiskCopy.start(CopyJob.full(samples.get(i).name(), sources.get(i), targets.get(i),
                            context.settings(), p -> { }), env);
                    copies.add(copy);
                    bars.add(copy::progress);
                }
                List<CopyResult> results = new ArrayList<>();
                try (ProgressBars progress = ProgressBars.ofCopies(out(), bars)) {
                    for (DiskCopy copy : copies) {
                        results.add(copy.await(Duration.ofHours(1)));
                    }
                }
                return verifyAndSummarize(context, env, samples, sources, targets, results);
            } finally {
                copies.forEach(DiskCopy::cancel);
                targets.forEach(NbdDiskTarget::close);
                sources.forEach(NbdDiskSource::close);
            }
        }
    }

    private int verifyAndSummarize(CliContext context, CopyEnvironment env, List<SampleDisks.Sample> samples,
                                          List<NbdDiskSource> sources, List<NbdDiskTarget> targets,
                                          List<CopyResult> results) throws Exception {
        out().println();
        out().printf("%-8s %10s %10s %10s %10s %10s %8s  %s%n", "disk", "capacity", "planned", "written",
                "zeroed", "skipped", "seconds", "verify");
        boolean allEqual = true;
        for (int i = 0; i < samples.size(); i++) {
            targets.get(i).close(); // the copy is flushed; verify reads it through a read-only export
            try (NbdDiskSource copy = NbdDiskSource.open("copy", new DiskLocation.LocalImage(
                    samples.get(i).path().resolveSibling(samples.get(i).name() + "-copy.img")), NbdOptions.DEFAULT,
                    env.tools())) {
                DiskComparison.Outcome o = DiskComparison.run(sources.get(i), copy, context.settings(), env)
                        .toCompletableFuture().get(1, TimeUnit.HOURS);
                allEqual &= o.equal();
                CopyProgress p = results.get(i).progress();
                out().printf("%-8s %10s %10s %10s %10s %10s %8.2f  %s%n", samples.get(i).name(),
                        HumanBytes.format(p.capacity()), HumanBytes.format(p.plannedBytes()),
                        HumanBytes.format(p.bytesWritten()), HumanBytes.format(p.bytesZeroed()),
                        HumanBytes.format(p.bytesSkipped()), results.get(i).copySeconds(),
                        o.equal() ? "equal" : "DIFFERS at offset " + o.firstDifference());
            }
        }
        out().println();
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
