package org.blockferry.api;

import org.blockferry.api.cli.Cli;

/** The runnable jar's entry point: the {@code blockferry} command line. */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        // Logging starts before any thread can log; otherwise SLF4J replays early events with a warning.
        org.slf4j.LoggerFactory.getILoggerFactory();
        int code = Cli.run(args);
        System.out.flush();
        System.err.flush();
        // Commands close what they started; exit() still ends a process whose helper threads linger.
        System.exit(code);
    }
}
