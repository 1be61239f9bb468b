package org.blockferry.api.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.blockferry.api.http.ApiServer;
import org.blockferry.api.http.ApiToken;
import org.blockferry.api.http.HttpSettings;
import org.blockferry.api.node.Node;
import org.blockferry.engine.endpoint.InvalidInputException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code blockferry serve}: a node with the HTTP API, the live page and metrics, until stopped. */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Runs a BlockFerry node with the HTTP API, the live web page and /metrics.", "",
            "Jobs submitted over HTTP (or left unfinished by an earlier process on the same database)",
            "run on this node. Stops on SIGTERM or Ctrl-C: running jobs resume at the next start.",
            "Every /api route needs the API token: BLOCKFERRY_API_TOKEN (or blockferry.http.token-file),",
            "else one generated at the first start into DATA_DIR/api-token (mode 0600) and reused.",
            "A non-loopback address needs TLS (or blockferry.http.allow-plaintext = true).",
            "Every job this node runs may only read and write local files under",
            "blockferry.storage.allowed-roots (and block devices matching allowed-devices)."})
final class ServeCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--bind", paramLabel = "ADDRESS", description = "listen address (default 127.0.0.1,"
            + " blockferry.http.interface)")
    String bind;

    @Option(names = "--port", paramLabel = "PORT", description = "listen port (default 8080; 0 = a free port)")
    Integer port;

    @Override
    public Integer call() throws Exception {
        if (port != null && (port < 0 || port > 65535)) {
            throw new InvalidInputException("--port", port + " is not a port (0-65535)");
        }
        if (bind != null && bind.isBlank()) {
            throw new InvalidInputException("--bind", "is empty");
        }
        Config config = ConfigFactory.load();
        HttpSettings http = HttpSettings.fromConfig(config).listening(bind, port);
        http.checkExposure(); // before anything starts
        if (http.token() == null) {
            ApiToken token = ApiToken.inDataDir(Path.of(config.getString("blockferry.data-dir")));
            http = http.withToken(token.value());
            // where the token is, never the token: stderr ends up in journals and CI logs
            spec.commandLine().getErr().println("blockferry serve: " + (token.generated()
                    ? "generated an API token in " : "API token from ") + token.file() + "; send it as the header"
                    + " Authorization: Bearer $(cat " + token.file() + ")");
            spec.commandLine().getErr().flush();
        }
        Node node = Node.start(config, Node.Access.SERVE); // API clients' jobs: blockferry.storage applies
        ApiServer server;
        try {
            server = ApiServer.start(node, http);
        } catch (Exception e) {
            node.close();
            throw e;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        java.util.concurrent.atomic.AtomicBoolean stopping = new java.util.concurrent.atomic.AtomicBoolean();
        Runnable stop = () -> {
            if (stopping.compareAndSet(false, true)) {
                server.close();
                node.close();
            }
        };
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            stop.run();
            stopped.countDown();
        }, "blockferry-stop"));
        // SIGTERM and SIGINT stop the node first and exit after: left to the JVM, its shutdown
        // hooks run side by side, and H2's closed the database while the journal still read it
        // (each stop printed its failing queries with their stack traces).
        for (String signal : java.util.List.of("TERM", "INT")) {
            try {
                sun.misc.Signal.handle(new sun.misc.Signal(signal), s -> {
                    stop.run();
                    System.exit(128 + s.getNumber());
                });
            } catch (IllegalArgumentException e) {
                // the JVM keeps this signal (e.g. -Xrs): the shutdown hook stops the node
            }
        }
        // Downed by the others (unreachable too long: paused, cut off): the actor system stops by
        // itself. The process ends too, so that a supervisor starts it again as a new member.
        java.io.PrintWriter err = spec.commandLine().getErr();
        node.system().getWhenTerminated().thenRun(() -> {
            if (!stopping.get()) {
                err.println("blockferry serve: this node was removed from its cluster (the others could not reach"
                        + " it for too long, or it left); its jobs run on the other nodes. Start it again to rejoin.");
                err.flush();
                System.exit(1);
            }
        });
        spec.commandLine().getOut().println("BlockFerry serving on " + server.url() + "  (API " + server.url()
                + "/api/v1, page " + server.url() + "/)");
        spec.commandLine().getOut().flush();
        stopped.await();
        return 0;
    }
}
