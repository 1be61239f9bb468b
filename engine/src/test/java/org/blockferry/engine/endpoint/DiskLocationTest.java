package org.blockferry.engine.endpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.Test;

/** Operators' disk locations: every bad one gets a message naming the field and the problem. */
class DiskLocationTest {
    @Test
    void nbdUrisOfEverySupportedSchemeAreAccepted() {
        for (String ok : new String[] {"nbd://host/export", "nbd://10.0.0.1:10809/", "nbds://host:10810/disk",
                "nbd+unix:///?socket=/run/x.sock", "nbds+unix://alice@/disk?socket=/s&tls-psk-file=/k"}) {
            assertInstanceOf(DiskLocation.NbdUri.class, DiskLocation.parse("source", ok), ok);
        }
    }

    @Test
    void pathsBecomeAbsoluteLocalImages() {
        DiskLocation l = DiskLocation.parse("target", "disks/vm.img");
        DiskLocation.LocalImage image = assertInstanceOf(DiskLocation.LocalImage.class, l);
        assertTrue(image.path().isAbsolute());
    }

    @Test
    void badLocationsNameTheFieldAndTheProblem() {
        record Bad(String text, String says) {
        }
        for (Bad bad : new Bad[] {
            new Bad("", "is empty"),
            new Bad("http://host/disk", "unsupported URI scheme 'http://'"),
            new Bad("nbd+unix:///export", "names no unix socket"),
            new Bad("nbd://", "is not a valid URI"),
            new Bad("nbd:///export", "names no host"),
            new Bad("nbd://host:70000/x", "invalid port"),
            new Bad("nbd+unix://host/?socket=/s", "must not name a host"),
            new Bad("nbd://ho st/x", "is not a valid URI"),
        }) {
            InvalidInputException e = assertThrows(InvalidInputException.class,
                    () -> DiskLocation.parse("source", bad.text()), bad.text());
            assertEquals("source", e.field());
            assertTrue(e.getMessage().startsWith("source: ") && e.getMessage().contains(bad.says()),
                    bad.text() + " -> " + e.getMessage());
        }
    }

    private static String identity(String text) {
        return DiskLocation.parse("target", text).identity();
    }

    @Test
    void twoSpellingsOfOneExportHaveOneIdentity() {
        assertEquals("nbd://host:10809/x", identity("nbd://host/x"));
        assertEquals(identity("nbd://host/x"), identity("nbd://HOST:10809/x"));
        assertEquals(identity("nbd://host:10810/x"), identity("nbds://host:10810/x"), "TLS or not, one export");
        assertEquals(identity("nbd://host/"), identity("nbd://host"), "the default export");
        assertEquals(identity("nbd+unix:///x?socket=/run/a.sock"),
                identity("nbds+unix:///x?socket=/run/a.sock&tls-certificates=/etc/pki"), "query options are not the export");
        assertTrue(!identity("nbd://host/x").equals(identity("nbd://host/y")), "another export");
        assertTrue(!identity("nbd://host/x").equals(identity("nbd://host:10810/x")), "another port");
    }

    @Test
    void pathsAndSocketsAreIdentifiedByTheirRealPathBeforeAndAfterTheyExist() throws Exception {
        Path dir = TestPeers.scratchDirectory("identity-");
        Path real = Files.createDirectories(dir.resolve("real"));
        Path link = Files.createSymbolicLink(dir.resolve("link"), real);
        String before = identity(link.resolve("sub/t.img").toString());
        assertEquals("file:" + real.toRealPath().resolve("sub/t.img"), before, "through the symlink, not yet there");
        Files.createDirectories(real.resolve("sub"));
        Files.write(real.resolve("sub/t.img"), new byte[1]);
        assertEquals(before, identity(link.resolve("sub/t.img").toString()), "the same once it exists");
        assertEquals(before, identity(real.resolve("sub/../sub/t.img").toString()));
        Path fileLink = Files.createSymbolicLink(dir.resolve("alias.img"), real.resolve("sub/t.img"));
        assertEquals(before, identity(fileLink.toString()), "a symlink to the file is the file");
        assertEquals(identity("nbd+unix:///?socket=" + real.resolve("s.sock")),
                identity("nbd+unix:///?socket=" + link.resolve("s.sock")));
    }
}
