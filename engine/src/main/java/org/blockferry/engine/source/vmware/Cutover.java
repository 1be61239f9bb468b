package org.blockferry.engine.source.vmware;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.blockferry.engine.source.vmware.vim.ManagedObject;
import org.blockferry.engine.source.vmware.vim.VimClient;
import org.blockferry.engine.source.vmware.vim.VimFault;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cutover of a final sync ({@code options.final_sync}): the VM stops before the job's
 * snapshot is taken, so the last sync holds every write the guest made.
 */
final class Cutover {
    private static final Logger log = LoggerFactory.getLogger(Cutover.class);

    private Cutover() {
    }

    /**
     * Asks the guest OS to shut down, waits up to {@code timeout} ({@code blockferry.vmware.shutdown-timeout})
     * for the VM to be poweredOff, then powers it off. A VM already off is left as it is (a retry
     * of the job's disk, or a second final sync). Blocks for as long as that takes.
     */
    static void shutDown(VimClient vim, ManagedObject vm, String vmPath, String jobId, Duration timeout)
            throws IOException {
        if ("poweredOff".equals(vim.powerState(vm))) {
            return;
        }
        Duration wait = timeout;
        try {
            vim.shutdownGuest(vm);
            log.info("event=guest-shutdown vm={} job={} timeout={}", vmPath, jobId, wait);
        } catch (VimFault.NotAuthenticated | VimFault.InvalidLogin | VimFault.ManagedObjectNotFound f) {
            throw f; // not about the guest
        } catch (VimFault f) { // no VMware Tools in the guest, for one: power it off
            log.warn("event=guest-shutdown-refused vm={} job={} fault={} error={}", vmPath, jobId, f.faultType(),
                    f.getMessage());
            wait = Duration.ZERO;
        }
        long deadline = System.nanoTime() + wait.toNanos();
        while (!"poweredOff".equals(vim.powerState(vm))) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                log.warn("event=power-off vm={} job={} reason=guest-not-off-after-{}", vmPath, jobId, wait);
                vim.powerOff(vm);
                break;
            }
            try {
                Thread.sleep(Math.max(1, Math.min(TimeUnit.NANOSECONDS.toMillis(left), 500)));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while waiting for VM '" + vmPath + "' to shut down");
            }
        }
        log.info("event=vm-powered-off vm={} job={}", vmPath, jobId);
    }
}
