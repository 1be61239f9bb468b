package org.blockferry.engine.source.vmware.vim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class NbdkitVddkCommandTest {

    @Test
    void argvServesOneSnapshotDiskReadOnlyOnAPrivateSocketWithThePasswordFromAFile() {
        NbdkitVddkCommand c = new NbdkitVddkCommand("/usr/sbin/nbdkit", null, Path.of("/opt/vmware-vix-disklib-distrib"),
                "vc.example.com", "administrator@vsphere.local", Path.of("/run/secrets/vc-password"),
                "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD", "vm-42", "snapshot-7",
                "[datastore1] web01/web01_1.vmdk", List.of("hotadd", "nbdssl"), Path.of("/tmp/bf-x/vddk.sock"));
        assertEquals(List.of("/usr/sbin/nbdkit", "--readonly", "--exit-with-parent", "--foreground",
                "-U", "/tmp/bf-x/vddk.sock", "vddk",
                "libdir=/opt/vmware-vix-disklib-distrib",
                "server=vc.example.com",
                "user=administrator@vsphere.local",
                "password=+/run/secrets/vc-password",
                "thumbprint=AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD",
                "vm=moref=vm-42",
                "snapshot=snapshot-7",
                "file=[datastore1] web01/web01_1.vmdk",
                "transports=hotadd:nbdssl"), c.argv());
    }

    @Test
    void withoutSnapshotOrTransportsThoseParametersAreLeftOut() {
        List<String> argv = new NbdkitVddkCommand("nbdkit", List.of(), Path.of("/opt/vddk"), "vc", "u", Path.of("/p"),
                "T", "vm-1", null, "[ds] a/a.vmdk", null, Path.of("/s")).argv();
        assertEquals(List.of("nbdkit", "--readonly", "--exit-with-parent", "--foreground", "-U", "/s", "vddk",
                "libdir=/opt/vddk", "server=vc", "user=u", "password=+/p", "thumbprint=T", "vm=moref=vm-1",
                "file=[ds] a/a.vmdk"), argv);
        assertFalse(String.join(" ", argv).contains("secret"));
    }

    @Test
    void aScriptPluginTakesThePlaceOfVddkAndPlainHttpHasNoThumbprint() {
        List<String> argv = new NbdkitVddkCommand("nbdkit", List.of("sh", "/lab/vddk-standin"), Path.of("/opt/vddk"),
                "127.0.0.1", "u", Path.of("/d/password"), null, "vm-7", "snapshot-9", "[ds] b/b.vmdk",
                List.of("nbd"), Path.of("/d/nbd.sock")).argv();
        assertEquals(List.of("nbdkit", "--readonly", "--exit-with-parent", "--foreground", "-U", "/d/nbd.sock", "sh",
                "/lab/vddk-standin", "libdir=/opt/vddk", "server=127.0.0.1", "user=u", "password=+/d/password",
                "vm=moref=vm-7", "snapshot=snapshot-9", "file=[ds] b/b.vmdk", "transports=nbd"), argv);
    }
}
