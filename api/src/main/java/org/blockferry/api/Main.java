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
}
