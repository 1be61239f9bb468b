package org.blockferry.engine.source.vmware.vim;

/** A vim25 managed object reference: its type (e.g. VirtualMachine) and its id (e.g. vm-42). */
public record ManagedObject(String type, String value) {
    @Override
    public String toString() {
        return type + ":" + value;
    }
}
