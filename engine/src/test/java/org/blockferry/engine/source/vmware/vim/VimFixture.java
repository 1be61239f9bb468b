package org.blockferry.engine.source.vmware.vim;

import java.io.IOException;
import org.blockferry.engine.source.vmware.testing.Vcsim;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/** A fresh simulator per test, a logged-in client and its VM {@link Vcsim#VM_PATH}. */
abstract class VimFixture {
    Vcsim vcsim;
    VimClient vim;
    ManagedObject vm;

    @BeforeEach
    void connect() throws IOException {
        vcsim = Vcsim.start();
        vim = VimClient.connect(vcsim.sdkUrl(), VsphereCredentials.of("user", "pass"), null);
        vm = vim.findByInventoryPath(Vcsim.VM_PATH).orElseThrow();
    }

    @AfterEach
    void close() throws IOException {
        vim.close();
        vcsim.close();
    }
}
