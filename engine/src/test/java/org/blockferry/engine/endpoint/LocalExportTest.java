package org.blockferry.engine.endpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicReference;
import org.blockferry.nbd.NbdConnection;
import org.blockferry.nbd.NbdOptions;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.Test;

/** Local exports live as long as BlockFerry needs them, whichever thread started them. */
class LocalExportTest {

    @Test
    @org.junit.jupiter.api.Timeout(60) // a dead export can leave a connect hanging
    void anExportOutlivesTheThreadThatStartedIt() throws Exception {
        TestPeers.require("nbdkit", "nbdkit");
        Path dir = TestPeers.scratchDirectory("export-");
        Path image = dir.resolve("disk.img");
        Files.write(image, new byte[1 << 20]);
        LocalExport.Tools tools = LocalExport.Tools.fromConfig(ConfigFactory.load()).withSocketRoot(dir);
        AtomicReference<LocalExport> started = new AtomicReference<>();
        // Pool threads end when idle; nbdkit's --exit-with-parent follows the starting thread.
        Thread starter = new Thread(() -> {
            try {
                started.set(LocalExport.start("source", image, false, tools));
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        starter.start();
        starter.join();
        LocalExport export = started.get();
        assertNotNull(export);
        try {
            Thread.sleep(1_000); // time for a parent-death signal to arrive, had there been one
            try (NbdConnection c = NbdConnection.open(export.uri(), NbdOptions.DEFAULT.withHandleName("check"))) {
                assertEquals(1 << 20, c.size(), "the export still answers after its starting thread ended");
            }
        } finally {
            export.close();
        }
    }
}
