package org.blockferry.engine.source.vmware.vim;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The production data path: {@code nbdkit vddk} serving one disk of a VM snapshot read-only on
 * a private Unix socket, as nbdkit-vddk-plugin(1) documents it. The password is passed as
 * {@code password=+FILE} so it never appears in the process list.
 *
 * @param nbdkit       the nbdkit executable
 * @param plugin       the plugin and its leading arguments: {@code [vddk]}, or {@code [sh, SCRIPT]} for a
 *                     script taking the same parameters
 * @param libdir       the VDDK directory ({@code vmware-vix-disklib-distrib})
 * @param server       vCenter's host name
 * @param user         the vSphere user
 * @param passwordFile the file holding the password
 * @param thumbprint   vCenter's certificate thumbprint as VDDK wants it (SHA-1, colon separated);
 *                     null over plain http
 * @param vmMoref      the VM's managed object id ({@code vm-42})
 * @param snapshot     the snapshot's managed object id ({@code snapshot-7})
 * @param file         the disk's VMDK file name ({@code [datastore1] vm/vm.vmdk})
 * @param transports   VDDK transport modes in order of preference ({@code hotadd}, {@code nbdssl}, ...)
 * @param socket       the private Unix socket to serve on
 */
public record NbdkitVddkCommand(String nbdkit, List<String> plugin, Path libdir, String server, String user,
                                Path passwordFile, String thumbprint, String vmMoref, String snapshot, String file,
                                List<String> transports, Path socket) {

    public NbdkitVddkCommand {
        Objects.requireNonNull(nbdkit, "nbdkit");
        plugin = plugin == null || plugin.isEmpty() ? List.of("vddk") : List.copyOf(plugin);
        Objects.requireNonNull(libdir, "libdir");
        Objects.requireNonNull(server, "server");
        Objects.requireNonNull(user, "user");
        Objects.requireNonNull(passwordFile, "passwordFile");
        Objects.requireNonNull(vmMoref, "vmMoref");
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(socket, "socket");
        transports = transports == null ? List.of() : List.copyOf(transports);
    }

    /** The argv: nbdkit's own options, the plugin, then its key=value parameters. */
    public List<String> argv() {
        List<String> cmd = new ArrayList<>(List.of(nbdkit, "--readonly", "--exit-with-parent", "--foreground",
                "-U", socket.toString()));
        cmd.addAll(plugin);
        cmd.addAll(List.of(
                "libdir=" + libdir,
                "server=" + server,
                "user=" + user,
                "password=+" + passwordFile));
        if (thumbprint != null) {
            cmd.add("thumbprint=" + thumbprint);
        }
        cmd.add("vm=moref=" + vmMoref);
        if (snapshot != null) {
            cmd.add("snapshot=" + snapshot);
        }
        cmd.add("file=" + file);
        if (!transports.isEmpty()) {
            cmd.add("transports=" + String.join(":", transports));
        }
        return cmd;
    }
}
