package org.blockferry.engine.source.vmware;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.junit.jupiter.api.Test;

class VmwareSyncTest {

    @Test
    void datastorePathsMapByTheLongestPrefix() {
        Map<String, String> map = Map.of("[ds1] ", "/mnt/ds1/", "[ds1] vm1/", "/fast/vm1");
        assertEquals(Path.of("/fast/vm1/disk.vmdk"), VmwareSync.mapped(map, "[ds1] vm1/disk.vmdk", "f"));
        assertEquals(Path.of("/mnt/ds1/vm2/disk.vmdk"), VmwareSync.mapped(map, "[ds1] vm2/disk.vmdk", "f"));
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> VmwareSync.mapped(map, "[ds2] vm/disk.vmdk", "disk d0 source"));
        assertTrue(e.getMessage().contains("datastore_map"), e.getMessage());
    }

    @Test
    void theUuidPartOfAChangeIdIsBeforeTheSlash() {
        assertEquals("52 aa bb cc dd ee ff 00 11-22 33 44 55 66 77 88 99",
                VmwareSync.uuid("52 aa bb cc dd ee ff 00 11-22 33 44 55 66 77 88 99/12"));
    }
}
