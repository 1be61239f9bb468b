package org.blockferry.api.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.blockferry.api.http.ApiServer;
import org.blockferry.api.http.ApiToken;
import org.blockferry.api.http.HttpSettings;
import org.blockferry.api.node.Node;
import org.blockferry.engine.copy.CopyEnvironment;
import org.blockferry.engine.copy.CopyJob;
import org.blockferry.engine.copy.DiskComparison;
import org.blockferry.engine.copy.DiskCopy;
import org.blockferry.engine.endpoint.DiskLocation;
import org.blockferry.engine.job.JobState;
import org.blockferry.engine.source.nbd.NbdDiskSource;
import org.blockferry.engine.target.NbdDiskTarget;
import org.blockferry.nbd.NbdOptions;
import picocli.CommandLine.Command;

/**
 * Hidden: one small copy and verify between scratch images, then one small job on a node with
 * a scratch H2 database, submitted and followed over the node's HTTP API, so that the launcher can record the classes real runs load into a
 * class-data-sharing archive (shorter start-up of every command, {@code replicate} and
 * {@code serve} included).
 */
@Command(name = "cds-training", hidden = true)
final class CdsTrainingCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * What {@code replicate}, {@code serve} and {@code demo} load: a node (cluster, sharding,
     * persistence on a scratch H2 file, the read side) running one small job to its end — the job
     * submitted, watched and read through the HTTP API on loopback, as {@code serve}'s clients do.
     */
    private static boolean replicate(Path dir, Path image) throws Exception {
        Path home = Files.createDirectories(dir.resolve("node"));
        // its own one-member cluster on loopback, whatever the environment says (a training run
        // on a cluster's node must never join that cluster), on a scratch H2 file
        Config config = ConfigFactory.parseMap(Map.of("blockferry.data-dir", home.toString(),
                "blockferry.persistence.backend", "h2",
                "blockferry.persistence.h2.file", home.resolve("blockferry").toString(),
                "blockferry.cluster.hostname", "127.0.0.1", "blockferry.cluster.port", 0,
                "blockferry.cluster.seed-nodes", List.of()))
                .withFallback(ConfigFactory.load());
        String jobId = "cds-training";
        ObjectNode job = JSON.createObjectNode().put("job_id", jobId).put("vm", "training");
        job.putArray("disks").addObject().put("id", "d0").put("source", image.toString())
                .put("target", dir.resolve("job.img").toString());
        String token = ApiToken.generate();
        HttpSettings http = HttpSettings.fromConfig(config).listening("127.0.0.1", 0).withToken(token);
        try (Node node = Node.start(config, Node.Access.OPERATOR)) {
            ApiServer server = ApiServer.start(node, http);
            try {
                // as `blockferry cluster` and an operator's client: the same client classes are archived
                NodeApi api = NodeApi.at(URI.create(server.url()), token);
                api.post("/api/v1/jobs", job, 202);
                api.text("/api/v1/jobs/" + jobId + "/events"); // the stream ends with the final state
                JobState last = ReplicateCommand.awaitFinal(node, jobId);
                ReplicateCommand.awaitReadSide(node, jobId);
                api.get("/api/v1/jobs/" + jobId);
                api.get("/api/v1/jobs?status=completed");
                api.get("/api/v1/cluster");
                api.text("/metrics");
                return last.status() == JobState.JobStatus.COMPLETED;
            } finally {
                server.close();
            }
        }
    }

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
                    if (!equal) {
                        return Cli.FAILED;
                    }
                }
            }
            return replicate(dir, samples.path()) ? Cli.OK : Cli.FAILED;
        } finally {
            try (Stream<Path> files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }
}
