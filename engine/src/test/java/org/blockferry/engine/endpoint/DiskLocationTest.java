package org.blockferry.engine.endpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
}
