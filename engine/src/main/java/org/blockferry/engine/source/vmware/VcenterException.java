package org.blockferry.engine.source.vmware;

import java.io.IOException;

/**
 * vCenter could not answer a question the node asked it for a client (which disks a VM has):
 * not the client's fault. The message says which vCenter and why, never who logs in with what.
 */
public final class VcenterException extends IOException {
    private static final long serialVersionUID = 1L;

    /** Why vCenter did not answer. */
    public enum Kind {
        /** It could not be reached or did not answer in time: asking again later may work. */
        UNREACHABLE,
        /** It answered, but refused (the node's login or certificate setting, a fault): an operator must act. */
        REFUSED
    }

    private final Kind kind;

    public VcenterException(Kind kind, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }
}
