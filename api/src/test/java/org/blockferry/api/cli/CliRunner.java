package org.blockferry.api.cli;

import java.io.PrintWriter;
import java.io.StringWriter;

/** The command line run in this JVM, as {@code blockferry ARGS} would run, for tests of other packages. */
public final class CliRunner {
    /** What a run printed and its exit code. */
    public record Run(int code, String out, String err) {
    }

    private CliRunner() {
    }

    public static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Cli.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
        return new Run(code, out.toString(), err.toString());
    }
}
