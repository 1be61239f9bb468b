package org.blockferry.engine.source.vmware;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.endpoint.LocalExport;
import org.blockferry.engine.endpoint.StoragePolicy;
import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.plan.CopyMode;
import org.blockferry.engine.source.SourceRequest;
import org.blockferry.engine.source.vmware.testing.Vcsim;
import org.blockferry.engine.testing.FileTree;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.Test;

/**
 * Datastore-mapped mode under a serving node's storage policy, against vcsim: the local image a
 * VMDK maps to is checked on its real path when the disk is opened, so a mapped directory (or an
 * image in it) that leads out of the allowed roots is refused naming the disk's source, and the
 * job's snapshot is removed again.
 */
class MappedImagePolicyTest {
    private static final String PREFIX = "[LocalDS_0] " + Vcsim.VM + "/";

    @Test
    void aMappedImageOutsideTheAllowedRootsIsRefusedWhenTheDiskOpens() throws Exception {
        Path dir = TestPeers.scratchDirectory("mapped-policy-");
        Path roots = Files.createDirectories(dir.resolve("roots"));
        Path outside = Files.createDirectories(dir.resolve("outside"));
        Files.write(outside.resolve("disk1.vmdk"), new byte[1 << 20]);
        Path ds = Files.createDirectories(roots.resolve("ds"));
        Files.createSymbolicLink(ds.resolve("disk1.vmdk"), outside.resolve("disk1.vmdk"));
        Files.writeString(dir.resolve("password"), "pw\n");
        StoragePolicy policy = StoragePolicy.builder().allowRoot(roots.toString()).build();
        FileTree before = FileTree.of(outside);
        ActorTestKit kit = ActorTestKit.create();
        try (Vcsim vcsim = Vcsim.secure("bf", dir.resolve("password"))) {
            VmwareSources sources = new VmwareSources(kit.system(), VmwareSettings.defaults().withVcenters(
                    vcsim.vcenter("vc1", "bf", dir.resolve("password"))),
                    LocalExport.Tools.fromConfig(ConfigFactory.load()).withSocketRoot(dir).withStorage(policy));
            for (Path mapped : List.of(ds, outside)) {
                JobSpec.Source source = JobSpec.Source.vmware("vc1", Vcsim.VM_PATH, Map.of(PREFIX, mapped + "/"));
                SourceRequest request = new SourceRequest("mapped-" + mapped.getFileName(), new JobSpec.Disk("d1",
                        PREFIX + "disk1.vmdk", roots.resolve("t.img").toString()), source, CopyMode.AUTO, false,
                        Optional.empty(), "target", "absent");
                InvalidInputException e = assertThrows(InvalidInputException.class, () -> sources.open(request).close());
                assertEquals("disk d1 source", e.field(), e.getMessage());
                assertTrue(e.getMessage().contains(mapped == ds ? "leads through a symbolic link to a path outside the"
                        + " allowed storage roots" : "is outside the allowed storage roots"), e.getMessage());
                assertEquals(0, vcsim.snapshots(Vcsim.VM), "the job's snapshot was removed");
            }
        } finally {
            kit.shutdownTestKit();
        }
        assertEquals(before, FileTree.of(outside));
    }
}
