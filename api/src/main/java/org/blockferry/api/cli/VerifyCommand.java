package org.blockferry.api.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.blockferry.engine.copy.DiskComparison;
import org.blockferry.engine.endpoint.DiskLocation;
import org.blockferry.engine.source.nbd.NbdDiskSource;
import org.blockferry.nbd.NbdOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine;

/** {@code blockferry verify SRC DST}: are the two disks equal? */
@Command(name = "verify", mixinStandardHelpOptions = true,
        description = {"Checks that DST equals SRC.", "",
            "Reads only what must be read (nothing where both report zeros).",
            "Exit 0 when equal; exit 1 printing the first differing offset."})
final class VerifyCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "SRC", description = "the source disk (NBD URI or local image)")
    String source;

    @Parameters(index = "1", paramLabel = "DST", description = "the copy to check (NBD URI or local image)")
    String target;

    @Override
    public Integer call() throws Exception {
        DiskLocation a = DiskLocation.parseExternal("source", source);
        DiskLocation b = DiskLocation.parseExternal("target", target);
        try (CliContext context = new CliContext()) {
            // the exports start while the actor system still starts (see CopyCommand)
            try (NbdDiskSource src = NbdDiskSource.open("source", a, NbdOptions.DEFAULT, context.tools());
                 NbdDiskSource dst = NbdDiskSource.open("target", b, NbdOptions.DEFAULT, context.tools())) {
                var env = context.environment();
                DiskComparison.Outcome o = DiskComparison.run(src, dst, context.settings(), env)
                        .toCompletableFuture().get(365, TimeUnit.DAYS);
                if (!o.note().isEmpty()) {
                    out().println("note: " + o.note());
                }
                if (o.equal()) {
                    out().printf("equal: %s compared, %s read%n", HumanBytes.format(o.sourceSize()),
                            HumanBytes.format(o.bytesRead()));
                    return Cli.OK;
                }
                out().printf("differ at offset %d%n", o.firstDifference());
                return Cli.FAILED;
            }
        }
    }

    private PrintWriter out() {
        return spec.commandLine().getOut();
    }
}
