package org.blockferry.engine.source.vmware;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicReference;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.endpoint.LocalExport;
import org.blockferry.engine.source.nbd.NbdDiskSource;
import org.blockferry.engine.source.vmware.vim.ManagedObject;
import org.blockferry.engine.source.vmware.vim.NbdkitVddkCommand;
import org.blockferry.engine.source.vmware.vim.VimClient;
import org.blockferry.engine.source.vmware.vim.VsphereCredentials;
import org.blockferry.nbd.NbdOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The production data path of a {@code vmware} source: one disk of the job's snapshot, served
 * read-only by {@code nbdkit vddk} on a private socket for as long as the disk's sync runs.
 *
 * <p>The password goes to nbdkit as {@code password=+FILE}: a file in the export's private
 * directory (0700), mode 0600, deleted as soon as the server is up (nbdkit reads it while it
 * starts). The thumbprint VDDK checks vCenter's certificate with is the SHA-1 of the certificate
 * this node's vim25 session accepted (pinned or CA-trusted).
 */
final class VddkSource {
    private static final Logger log = LoggerFactory.getLogger(VddkSource.class);
    static final String LIBDIR_KEY = "blockferry.vmware.vddk.libdir";

    private VddkSource() {
    }

    /** Checks the node can read through VDDK at all, before a snapshot is taken. */
    static Path libdir(VmwareSettings settings, String field, String vmdk) {
        String why = "reading '" + vmdk + "' for " + field + " needs VMware's VDDK: set " + LIBDIR_KEY
                + " (or BLOCKFERRY_VDDK_LIBDIR) to its vmware-vix-disklib-distrib directory on this node,"
                + " or read the disks from local images with source.datastore_map";
        Path libdir = settings.vddkLibdir();
        if (libdir == null) {
            throw new InvalidInputException(LIBDIR_KEY, "is not set: " + why);
        }
        if (!Files.isDirectory(libdir)) {
            throw new InvalidInputException(LIBDIR_KEY, libdir + " is not a directory: " + why);
        }
        return libdir;
    }

    /** Serves {@code vmdk} of {@code snapshot} with VDDK in {@code libdir} (checked by {@link #libdir}). */
    static NbdDiskSource open(String field, VmwareSettings settings, Path libdir, LocalExport.Tools tools,
                              VimClient vim, VsphereCredentials credentials, ManagedObject vm, ManagedObject snapshot,
                              String vmdk) throws IOException {
        String what = "'" + vmdk + "' of snapshot " + snapshot.value();
        AtomicReference<Path> passwordFile = new AtomicReference<>();
        LocalExport export;
        try {
            export = LocalExport.serve(field, what + " (nbdkit " + String.join(" ", settings.vddkPlugin()) + ")",
                    (dir, socket) -> {
                        Path password = dir.resolve("vsphere-password");
                        credentials.writePasswordFile(password);
                        passwordFile.set(password);
                        return new NbdkitVddkCommand(tools.nbdkit(), settings.vddkPlugin(), libdir, vim.sdk().getHost(),
                                credentials.user(), password, vim.serverSha1Thumbprint().orElse(null), vm.value(),
                                snapshot.value(), vmdk, settings.vddkTransports(), socket).argv();
                    }, "nbdkit", tools);
        } catch (InvalidInputException e) {
            if (e.getMessage().contains("cannot open plugin")) {
                throw new InvalidInputException(field, "this node's nbdkit has no '"
                        + String.join(" ", settings.vddkPlugin()) + "' plugin to read " + what + " with: install"
                        + " nbdkit-vddk-plugin (built from nbdkit's sources; Debian does not ship it) next to VMware's"
                        + " VDDK in " + libdir + ", or read the disks from local images with source.datastore_map ("
                        + e.getMessage() + ")");
            }
            throw e;
        }
        Files.deleteIfExists(passwordFile.get()); // nbdkit read it while starting
        log.info("event=vddk-export vm={} snapshot={} file={} plugin={}", vm.value(), snapshot.value(), vmdk,
                String.join(" ", settings.vddkPlugin()));
        return NbdDiskSource.served(what + " (nbdkit vddk)", export, NbdOptions.DEFAULT);
    }
}
