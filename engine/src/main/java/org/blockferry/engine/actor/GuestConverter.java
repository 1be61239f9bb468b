package org.blockferry.engine.actor;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.blockferry.engine.target.GuestConversion;

/**
 * Converts a migrated guest in place so it boots on KVM ({@code options.convert} at a cloudstack
 * cutover): all of the VM's disks together, in its order. The node's is virt-v2v-in-place.
 */
@FunctionalInterface
public interface GuestConverter {
    /** A node without one: a job that asks for conversion fails its cutover saying so. */
    GuestConverter NONE = (devices, vmName, jobId) -> {
        throw new IOException("this node cannot convert guests (no virt-v2v-in-place configured)");
    };

    /** Converts the guest on {@code devices} for job {@code jobId}; returns what it did, in one line. */
    String convert(List<Path> devices, String vmName, String jobId) throws IOException;

    /**
     * virt-v2v-in-place as {@code conversion} runs it, each job's XML and logs in its own
     * directory under {@code workRoot} (the appliance it builds there is removed after the run).
     */
    static GuestConverter of(GuestConversion conversion, Path workRoot) {
        return (devices, vmName, jobId) -> describe(conversion.convert(devices, vmName, workRoot.resolve(jobId)));
    }

    /** {@code debian12, root on /dev/vdb (/dev/sda1), 92 s under emulation: Converting ... to run on KVM ...}. */
    static String describe(GuestConversion.Outcome o) {
        String root = o.rootDevice() != null ? "root on " + o.rootDevice() + " (" + o.rootFilesystem() + ")"
                : "root " + o.rootFilesystem();
        return o.operatingSystem() + ", " + root + ", " + o.took().toSeconds() + " s"
                + (o.softwareEmulation() ? " under emulation" : "") + ": " + o.summary();
    }
}
