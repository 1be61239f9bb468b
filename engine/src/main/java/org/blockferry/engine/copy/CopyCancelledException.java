package org.blockferry.engine.copy;

import java.util.concurrent.CancellationException;

/** A copy stopped because someone asked it to; what was written is flushed. */
public final class CopyCancelledException extends CancellationException {
    private static final long serialVersionUID = 1L;

    public CopyCancelledException(String disk) {
        super("copy of " + disk + " was cancelled");
    }
}
