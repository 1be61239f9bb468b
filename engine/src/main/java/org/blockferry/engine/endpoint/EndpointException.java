package org.blockferry.engine.endpoint;

import java.io.IOException;

/**
 * A disk's server could not be reached or refused the connection: names the side
 * ({@code source}, {@code target}) and the location, with the underlying cause's message.
 */
public class EndpointException extends IOException {
    private static final long serialVersionUID = 1L;

    private final String field;

    public EndpointException(String field, String location, Throwable cause) {
        super(field + ": cannot connect to " + location + ": " + reason(cause), cause);
        this.field = field;
    }

    public String field() {
        return field;
    }

    private static String reason(Throwable cause) {
        if (cause instanceof org.blockferry.nbd.NbdException e) {
            return e.nbdMessage();
        }
        return cause.getMessage();
    }
}
