package org.blockferry.engine.source.vmware.vim;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.List;
import org.blockferry.engine.source.vmware.testing.Vcsim;
import org.junit.jupiter.api.Test;

class VimTlsTest {
    @Test
    void pinnedThumbprintIsTrustedAndAnyOtherIsRefused() throws Exception {
        try (Vcsim vcsim = Vcsim.start(List.of("-tls"))) {
            VsphereCredentials creds = VsphereCredentials.of("user", "pass");
            try (VimClient vim = VimClient.connect(vcsim.sdkUrl(), creds, VimTls.pinnedThumbprint(vcsim.thumbprint()))) {
                assertTrue(vim.findByInventoryPath(Vcsim.VM_PATH).isPresent());
            }
            String other = "00".repeat(32);
            assertThrows(IOException.class, () -> VimClient.connect(vcsim.sdkUrl(), creds, VimTls.pinnedThumbprint(other)));
            assertThrows(IOException.class, () -> VimClient.connect(vcsim.sdkUrl(), creds, VimTls.systemTrust()));
            try (VimClient vim = VimClient.connect(vcsim.sdkUrl(), creds, VimTls.insecure())) {
                assertTrue(vim.findByInventoryPath(Vcsim.VM_PATH).isPresent());
            }
        }
    }
}
