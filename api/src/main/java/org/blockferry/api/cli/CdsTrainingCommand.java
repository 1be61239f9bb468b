package org.blockferry.api.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.blockferry.engine.copy.CopyEnvironment;
import org.blockferry.engine.copy.CopyJob;
import org.blockferry.engine.copy.DiskComparison;
import org.blockferry.engine.copy.DiskCopy;
import org.blockferry.engine.endpoint.DiskLocation;
import org.blockferry.engine.source.nbd.NbdDiskSource;
import org.blockferry.engine.target.NbdDiskTarget;
import org.blockferry.nbd.NbdOptions;
import picocli.CommandLine.Command;

/**
 * Hidden: one small copy and verify between scratch images, so that the launcher can record
 * the classes a real run loads into a class-data-sharing archive (shorter start-up).
 */
@Command(name = "cds-training", hidden = true)
final class CdsTrainingCommand implements Callable<Integer> {
    @Override
    public Integer call() throws Exception {
        Path dir = Files.createTempDirectory("blockferry-cds-");
        try (CliContext context = new CliContext()) {
            CopyEnvironment env = context.environment();
            var samples = SampleDisks.createSmall(dir);
            Path copy = dir.resolve("copy.img");
            try (NbdDiskSource src = NbdDiskSource.open("source", new DiskLocation.LocalImage(samples.path()),
                    NbdOptions.DEFAULT, env.tools())) {
                try (NbdDiskTarget dst = NbdDiskTarget.open("target", new DiskLocation.LocalImage(copy), samples.size(),
                        NbdOptions.DEFAULT, env.tools())) {
                    DiskCopy.start(CopyJob.full("training", src, dst, context.settings(), p -> ProgressBars.render(p)),
                            env).await(Duration.ofMinutes(2));
                }
                try (NbdDiskSource check = NbdDiskSource.open("copy", new DiskLocation.LocalImage(copy),
                        NbdOptions.DEFAULT, env.tools())) {
                    boolean equal = DiskComparison.run(src, check, context.settings(), env).toCompletableFuture()
                            .get(2, TimeUnit.MINUTES).equal();
                    return equal ? Cli.OK : Cli.FAILED;
                }
            }
        } finally {
            try (Stream<Path> files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }
}
