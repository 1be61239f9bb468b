package org.blockferry.engine.endpoint;

/**
 * Bad input from an operator (a URI, a path, a setting): names the field and says what is
 * wrong. Thrown before anything is written anywhere.
 */
public class InvalidInputException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    private final String field;

    public InvalidInputException(String field, String message) {
        super(field + ": " + message);
        this.field = field;
    }

    /** The field, flag or setting at fault, e.g. {@code source} or {@code blockferry.copy.request-size}. */
    public String field() {
        return field;
    }
}
