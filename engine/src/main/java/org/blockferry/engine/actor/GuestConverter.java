package org.blockferry.engine.actor;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * Converts a migrated guest in place so it boots on KVM ({@code options.convert} at a cloudstack
 * cutover): all of the VM's disks together, in its order. The node's is virt-v2v-in-place.
 */
@FunctionalInterface
public interface GuestConverter {
    /** A node without one: a job that asks for conversion fails its cutover saying so. */
    GuestConverter NONE = (devices, vmName, workDir) -> {
        throw new IOException("this node cannot convert guests (no virt-v2v-in-place configured)");
    };

    /** Converts the guest on {@code devices}; returns what it did, in one line (the root disk, the OS). */
    String convert(List<Path> devices, String vmName, Path workDir) throws IOException;
}
