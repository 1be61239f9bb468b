package org.blockferry.api.cli;

import java.io.PrintWriter;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.blockferry.engine.copy.CopyJob;
import org.blockferry.engine.copy.CopyProgress;
import org.blockferry.engine.copy.CopyResult;
import org.blockferry.engine.copy.CopySettings;
import org.blockferry.engine.copy.DiskCopy;
import org.blockferry.engine.endpoint.DiskLocation;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.source.nbd.NbdDiskSource;
import org.blockferry.engine.target.NbdDiskTarget;
import org.blockferry.nbd.NbdOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine;

/** {@code blockferry copy SRC DST}: one disk, exactly, as fast as the servers allow. */
@Command(name = "copy", mixinStandardHelpOptions = true,
        description = {"Copies one disk from SRC to DST.", "",
            "SRC and DST are NBD URIs (nbd://host:port/export, nbds://..., nbd+unix:///?socket=PATH,",
            "nbds+unix://user@/?socket=PATH&tls-psk-file=FILE) or local raw/qcow2 images.",
            "A DST path that does not exist is created as a sparse raw image.",
            "Holes and zero extents are never read; zero data is written as NBD zero, or not at all",
            "where the target already reads as zero."})
final class CopyCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "SRC", description = "the source disk")
    String source;

    @Parameters(index = "1", paramLabel = "DST", description = "the target disk")
    String target;

    @Option(names = "--json", description = "print one JSON object with the result on stdout, no progress bar")
    boolean json;

    @Option(names = "--connections", paramLabel = "N",
            description = "NBD connections per side when the server allows multi-conn (1-16; default: blockferry.copy.connections, 4)")
    Integer connections;

    @Option(names = "--request-size", paramLabel = "BYTES",
            description = "largest NBD request, e.g. 524288 or 512K (4K-32M; default: blockferry.copy.request-size, 512K)")
    String requestSize;

    @Option(names = "--target-is-zero",
            description = "the target reads as zeros: never send zeros (otherwise asked from the target)")
    boolean targetIsZero;

    @Override
    public Integer call() throws Exception {
        DiskLocation from = DiskLocation.parseExternal("source", source);
        DiskLocation to = DiskLocation.parseExternal("target", target);
        try (CliContext context = new CliContext()) {
            CopySettings settings = settings(context.settings());
            // The exports of local images start while the actor system still starts (in the
            // background since main): they need the configuration only.
            try (NbdDiskSource src = NbdDiskSource.open("source", from, NbdOptions.DEFAULT, context.tools())) {
                long size = src.size();
                try (NbdDiskTarget dst = NbdDiskTarget.open("target", to, size, NbdOptions.DEFAULT, context.tools())) {
                    var env = context.environment();
                    DiskCopy copy = DiskCopy.start(CopyJob.full(name(from), src, dst, settings, p -> { }), env);
                    CopyResult result;
                    if (json) {
                        result = copy.await(Duration.ofDays(365));
                    } else {
                        try (ProgressBars bars = ProgressBars.ofCopies(out(), List.of(copy::progress))) {
                            result = awaitQuietly(copy);
                        }
                    }
                    print(result, src.describe(), dst.describe());
                }
            }
        }
        return Cli.OK;
    }

    private static CopyResult awaitQuietly(DiskCopy copy) throws Exception {
        return copy.await(Duration.ofDays(365));
    }

    private CopySettings settings(CopySettings base) {
        // A one-shot copy cannot resume, so checkpoint flushes would buy nothing: flush once, at the end.
        CopySettings s = base.withCheckpointInterval(Long.MAX_VALUE);
        if (connections != null) {
            if (connections < 1 || connections > 16) {
                throw new InvalidInputException("--connections", "must be 1..16, got " + connections);
            }
            s = s.withConnections(connections);
        }
        if (requestSize != null) {
            long bytes = HumanBytes.parse("--request-size", requestSize);
            if (bytes < 4096 || bytes > CopySettings.MAX_REQUEST) {
                throw new InvalidInputException("--request-size", "must be 4K..32M, got " + requestSize);
            }
            s = s.withRequestSize((int) bytes);
        }
        if (targetIsZero) {
            s = s.withTargetIsZero(true);
        }
        return s;
    }

    static String name(DiskLocation location) {
        if (location instanceof DiskLocation.LocalImage local) {
            return local.path().getFileName().toString();
        }
        return "disk";
    }

    private void print(CopyResult r, String from, String to) throws Exception {
        CopyProgress p = r.progress();
        if (json) {
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("status", "completed");
            out.put("source", from);
            out.put("target", to);
            out.put("capacity", p.capacity());
            out.put("planned_bytes", p.plannedBytes());
            out.put("bytes_transferred", p.bytesDone());
            out.put("bytes_written", p.bytesWritten());
            out.put("bytes_zeroed", p.bytesZeroed());
            out.put("bytes_skipped", p.bytesSkipped());
            out.put("zero_sent_bytes", r.zeroSentBytes());
            out.put("target_known_zero_bytes", r.targetKnownZeroBytes());
            out.put("seconds", Math.round(r.copySeconds() * 1000) / 1000.0);
            out.put("throughput_bps", r.copySeconds() > 0 ? Math.round(p.bytesDone() / r.copySeconds()) : 0);
            out.put("source_connections", r.sourceConnections());
            out.put("target_connections", r.targetConnections());
            out.put("request_size", r.requestSize());
            out().println(JsonLine.of(out));
            return;
        }
        out().printf("copied %s -> %s%n", from, to);
        out().printf("  planned %s of %s; written %s, zeroed %s, skipped %s (holes and zero extents, never read)%n",
                HumanBytes.format(p.plannedBytes()), HumanBytes.format(p.capacity()),
                HumanBytes.format(p.bytesWritten()), HumanBytes.format(p.bytesZeroed()),
                HumanBytes.format(p.bytesSkipped()));
        out().printf("  %.2f s, %s/s; %d+%d connections, %s requests%n", r.copySeconds(),
                HumanBytes.format(r.copySeconds() > 0 ? p.bytesDone() / r.copySeconds() : 0),
                r.sourceConnections(), r.targetConnections(), HumanBytes.format(r.requestSize()));
    }

    private PrintWriter out() {
        return spec.commandLine().getOut();
    }
}
