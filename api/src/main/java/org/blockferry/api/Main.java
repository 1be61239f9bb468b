package org.blockferry.api;

import org.blockferry.api.cli.Cli;
import org.blockferry.api.cli.ProcessRuntime;
import org.blockferry.engine.endpoint.TlsCipherSetting;
import org.blockferry.nbd.NbdConnection;

/** The runnable jar's entry point: the {@code blockferry} command line. */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        poolAsyncStages(System.getProperties(), Runtime.getRuntime().availableProcessors()); // before any stage runs
        // libnbd, the configuration and the actor system load in the background while the
        // command line is parsed: together they are most of a short command's start-up.
        String command = args.length > 0 ? args[0] : "";
        if (java.util.Set.of("copy", "verify", "cds-training", "replicate", "serve", "demo").contains(command)) {
            NbdConnection.preloadLibrary(TlsCipherSetting::forPreload); // not for the help or a look at the jobs
        }
        if (command.equals("copy") || command.equals("verify") || command.equals("cds-training")) {
            ProcessRuntime.startInBackground(); // the job commands start a full node instead
        }
        // Logging starts before any thread can log; otherwise SLF4J replays early events with a warning.
        org.slf4j.LoggerFactory.getILoggerFactory();
        int code = Cli.run(args);
        System.out.flush();
        System.err.flush();
        // Commands close what they started; exit() still ends a process whose helper threads linger.
        System.exit(code);
    }

    static final String COMMON_PARALLELISM = "java.util.concurrent.ForkJoinPool.common.parallelism";

    /**
     * Gives the JDK's common pool at least two threads where the machine would give it one.
     * {@code CompletableFuture} runs an asynchronous stage without an executor in the common pool
     * only when that pool's parallelism is at least two; below that it starts a new thread for
     * every such stage. Its parallelism is the CPU count minus one, so on a one- or two-CPU machine
     * every stage after a Pekko ask or an HTTP request's body (Pekko's Java API hands out Scala
     * futures converted to {@code CompletionStage}s, whose {@code thenApply} and kin run as the
     * asynchronous variants) started a thread — a thread per API request, per job step. An
     * operator's own setting of the property is kept. Must run before anything touches the pool.
     */
    static void poolAsyncStages(java.util.Properties properties, int cpus) {
        if (cpus <= 2 && properties.getProperty(COMMON_PARALLELISM) == null) {
            properties.setProperty(COMMON_PARALLELISM, "2");
        }
    }
}
