package org.blockferry.api.cli;

import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import org.blockferry.engine.copy.CopyCancelledException;
import org.blockferry.engine.endpoint.EndpointException;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.nbd.NbdException;

/** Turns any failure into one line a person can act on, and an exit code. No stack traces. */
final class CliErrors {
    record Failure(String message, int exitCode) {
    }

    private CliErrors() {
    }

    static Failure describe(Throwable t) {
        Throwable e = unwrap(t);
        if (e instanceof InvalidInputException || e instanceof EndpointException) {
            return new Failure(e.getMessage(), Cli.BAD_INPUT);
        }
        if (e instanceof CopyCancelledException) {
            return new Failure(e.getMessage(), Cli.FAILED);
        }
        if (e instanceof NbdException n) {
            return new Failure("NBD error in " + n.operation() + ": " + n.nbdMessage()
                    + (n.errno() != 0 ? " (errno " + n.errno() + ")" : ""), Cli.FAILED);
        }
        String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return new Failure(message, Cli.FAILED);
    }

    static Throwable unwrap(Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }
}
