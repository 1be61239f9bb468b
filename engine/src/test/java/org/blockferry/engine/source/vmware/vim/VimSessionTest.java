package org.blockferry.engine.source.vmware.vim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.blockferry.engine.source.vmware.testing.Vcsim;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VimSessionTest {
    static final String USER = "replicator@vsphere.local";
    static final String PASSWORD = "Tr1cky-P@ss<&>\"word";
    static Vcsim vcsim;

    @BeforeAll
    static void start() {
        vcsim = Vcsim.requiringLogin(USER, PASSWORD);
    }

    @AfterAll
    static void stop() {
        vcsim.close();
    }

    static VimClient connect() throws IOException {
        return VimClient.connect(vcsim.sdkUrl(), VsphereCredentials.of(USER, PASSWORD), null);
    }

    @Test
    void logsInWithGoodCredentialsAndOut() throws IOException {
        try (VimClient vim = connect()) {
            assertTrue(vim.findByInventoryPath(Vcsim.VM_PATH).isPresent());
        }
    }

    @Test
    void refusesBadCredentialsWithInvalidLogin() {
        VimFault f = assertThrows(VimFault.InvalidLogin.class, () ->
                VimClient.connect(vcsim.sdkUrl(), VsphereCredentials.of(USER, "wrong-secret-42"), null));
        assertFalse(f.getMessage().contains("wrong-secret-42"), f.getMessage());
        assertEquals("InvalidLogin", f.faultType());
    }

    @Test
    void findByInventoryPathFindsTheVmOrNothing() throws IOException {
        try (VimClient vim = connect()) {
            ManagedObject vm = vim.findByInventoryPath(Vcsim.VM_PATH).orElseThrow();
            assertEquals("VirtualMachine", vm.type());
            assertTrue(vim.findByInventoryPath("DC0/vm/no-such-vm").isEmpty());
        }
    }

    @Test
    void expiredSessionLogsInAgainTransparently() throws IOException {
        try (VimClient vim = connect()) {
            ManagedObject vm = vim.findByInventoryPath(Vcsim.VM_PATH).orElseThrow();
            vim.enableChangeTracking(vm);
            vcsim.expireSessions();
            ManagedObject snap = vim.createSnapshot(vm, "after-expiry", "", false);
            vcsim.expireSessions();
            VirtualDiskInfo disk = vim.virtualDisks(vm).get(0);
            vcsim.expireSessions();
            assertEquals(List.of(), vim.queryChangedDiskAreas(vm, snap, disk, "*"));
            vcsim.expireSessions();
            vim.removeSnapshot(snap);
        }
    }

    @Test
    void passwordNeverAppearsInMessagesOrToString(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("password");
        Files.writeString(file, PASSWORD + "\n");
        VsphereCredentials creds = VsphereCredentials.fromFile(USER, file);
        assertEquals(VsphereCredentials.of(USER, PASSWORD), creds);
        assertFalse(creds.toString().contains(PASSWORD), creds.toString());
        try (VimClient vim = VimClient.connect(vcsim.sdkUrl(), creds, null)) {
            assertFalse(vim.toString().contains(PASSWORD), vim.toString());
        }
        Exception bad = assertThrows(VimFault.class, () ->
                VimClient.connect(vcsim.sdkUrl(), VsphereCredentials.of("nobody", PASSWORD), null));
        assertFalse(bad.getMessage().contains(PASSWORD), bad.getMessage());
    }
}
