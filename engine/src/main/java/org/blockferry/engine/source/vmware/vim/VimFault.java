package org.blockferry.engine.source.vmware.vim;

import java.io.IOException;

/** A vim25 fault (or a failed task's fault) with its type name and vCenter's message. */
public class VimFault extends IOException {
    private final String faultType;

    VimFault(String faultType, String message) {
        super(faultType + ": " + (message == null || message.isBlank() ? "(no message)" : message));
        this.faultType = faultType;
    }

    /** The vim25 type name, e.g. {@code FileFault}. */
    public String faultType() {
        return faultType;
    }

    /** Maps a fault type name to its typed exception. */
    static VimFault of(String type, String message) {
        return switch (type) {
            case "NotAuthenticated" -> new NotAuthenticated(message);
            case "InvalidLogin" -> new InvalidLogin(message);
            case "ManagedObjectNotFound" -> new ManagedObjectNotFound(message);
            case "FileFault", "FileNotFound", "CannotAccessFile" -> new FileFault(type, message);
            default -> new VimFault(type, message);
        };
    }

    /** The session is missing or expired; log in again. */
    public static final class NotAuthenticated extends VimFault {
        NotAuthenticated(String message) {
            super("NotAuthenticated", message);
        }
    }

    /** The user name or password was refused. */
    public static final class InvalidLogin extends VimFault {
        InvalidLogin(String message) {
            super("InvalidLogin", message);
        }
    }

    /** The referenced object does not exist (any more). */
    public static final class ManagedObjectNotFound extends VimFault {
        ManagedObjectNotFound(String message) {
            super("ManagedObjectNotFound", message);
        }
    }

    /** A file-level fault; from QueryChangedDiskAreas it means the changeId is not valid (any more). */
    public static final class FileFault extends VimFault {
        FileFault(String type, String message) {
            super(type, message);
        }
    }

    /** Changed Block Tracking is not enabled on the VM, so there are no changed areas to ask for. */
    public static final class ChangeTrackingDisabled extends VimFault {
        ChangeTrackingDisabled(String type, String message) {
            super(type, message);
        }
    }
}
