package org.blockferry.api.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.ConfigFactory;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code blockferry cluster}: the cluster's nodes as a node's API shows them ({@code GET /api/v1/cluster}). */
@Command(name = "cluster", mixinStandardHelpOptions = true,
        description = {"Shows the cluster's nodes: status, reachability, running jobs and copying disks.", "",
            "Asks a node's HTTP API (GET /api/v1/cluster): --url, else this machine's node",
            "(blockferry.http.interface and port). The API token comes from --token-file, else",
            "BLOCKFERRY_API_TOKEN (or blockferry.http.token-file), else DATA_DIR/api-token."})
final class ClusterCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--url", paramLabel = "URL", description = "the node's address, e.g. http://10.0.0.11:8080"
            + " (default: this machine's node)")
    String url;

    @Option(names = "--token-file", paramLabel = "FILE", description = "the file holding the API token (first line)")
    Path tokenFile;

    @Option(names = "--json", description = "the API's document as it is, on one line")
    boolean json;

    @Override
    public Integer call() throws Exception {
        JsonNode cluster = NodeApi.of(url, tokenFile, ConfigFactory.load()).get("/api/v1/cluster");
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(cluster.toString());
        } else {
            printTable(out, cluster);
        }
        return Cli.OK;
    }

    static void printTable(PrintWriter out, JsonNode cluster) {
        String format = "%-24s %-12s %-9s %6s %6s  %s";
        out.println(String.format(format, "NODE", "STATUS", "REACHABLE", "JOBS", "DISKS", "").stripTrailing());
        String leader = cluster.path("leader").asText(null);
        for (JsonNode m : cluster.path("members")) {
            List<String> marks = new ArrayList<>();
            if (m.path("self").asBoolean()) {
                marks.add("self");
            }
            if (m.path("node").asText().equals(leader)) {
                marks.add("leader");
            }
            out.println(String.format(format, m.path("node").asText(), m.path("status").asText(),
                    m.path("reachable").asBoolean() ? "yes" : "no", m.path("running_jobs").asLong(),
                    m.path("running_disks").asLong(), String.join(", ", marks)).stripTrailing());
        }
        out.println("queued jobs (cluster-wide): " + cluster.path("waiting_jobs").asLong());
    }
}
