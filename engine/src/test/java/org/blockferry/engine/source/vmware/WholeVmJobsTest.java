package org.blockferry.engine.source.vmware;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.endpoint.StoragePolicy;
import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.job.TargetTemplate;
import org.blockferry.engine.source.vmware.testing.Vcsim;
import org.blockferry.engine.source.vmware.vim.VimClient;
import org.blockferry.engine.source.vmware.vim.VirtualDiskInfo;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.Test;

/**
 * A whole-VM job's expansion against vcsim (three disks per VM): one disk per virtual disk, and
 * each way it can be refused — by the job's fields, the VM, the storage policy or vCenter.
 */
class WholeVmJobsTest {
    private static final String USER = "bf";
    private static final String PASSWORD = "s3cret-vc";

    private static JobSpec wholeVm(String vmPath, String template) {
        return new JobSpec("whole", "web01", JobSpec.Source.vmware("vc1", vmPath, null), null, null, null, template);
    }

    private static Vcsim threeDisks() {
        return Vcsim.start(List.of("-tls", "-username", USER, "-password", PASSWORD, "-disks", "3"));
    }

    private static WholeVmJobs jobs(Vcsim vcsim, Path passwordFile, StoragePolicy storage) {
        return new WholeVmJobs(VmwareSettings.defaults().withVcenters(vcsim.vcenter("vc1", USER, passwordFile)), storage);
    }

    private static Path password(Path dir, String password) throws Exception {
        return Files.writeString(dir.resolve("password-" + password.length()), password + "\n");
    }

    @Test
    void everyVirtualDiskOfTheVmBecomesADiskOfTheJob() throws Exception {
        Path dir = TestPeers.scratchDirectory("whole-vm-");
        try (Vcsim vcsim = threeDisks()) {
            List<VirtualDiskInfo> disks;
            try (VimClient vim = vcsim.connect(USER, PASSWORD)) {
                disks = vim.virtualDisks(vim.findByInventoryPath(Vcsim.VM_PATH).orElseThrow());
            }
            assertEquals(3, disks.size());
            StoragePolicy policy = StoragePolicy.builder().allowRoot(dir.toString()).build();
            JobSpec spec = jobs(vcsim, password(dir, PASSWORD), policy)
                    .expand(wholeVm(Vcsim.VM_PATH, dir + "/{vm}-{disk_key}.img"), 64).validated();
            assertEquals(null, spec.targetTemplate());
            assertEquals(3, spec.disks().size());
            for (int i = 0; i < 3; i++) {
                String key = String.valueOf(disks.get(i).key());
                assertEquals(new JobSpec.Disk(key, key, dir + "/" + Vcsim.VM + "-" + key + ".img"), spec.disks().get(i));
            }
        }
    }

    @Test
    void eachRefusalNamesItsFieldOrItsVcenter() throws Exception {
        Path dir = TestPeers.scratchDirectory("whole-vm-refused-");
        Path roots = Files.createDirectories(dir.resolve("roots"));
        StoragePolicy policy = StoragePolicy.builder().allowRoot(roots.toString()).build();
        String template = roots + "/{vm}-{disk_key}.img";
        try (Vcsim vcsim = threeDisks()) {
            WholeVmJobs jobs = jobs(vcsim, password(dir, PASSWORD), policy);

            InvalidInputException tooMany = assertThrows(InvalidInputException.class,
                    () -> jobs.expand(wholeVm(Vcsim.VM_PATH, template), 2));
            assertEquals("source.vm", tooMany.field());
            assertTrue(tooMany.getMessage().contains("has 3 virtual disks; a job may have at most 2"), tooMany.getMessage());

            InvalidInputException missing = assertThrows(InvalidInputException.class,
                    () -> jobs.expand(wholeVm("DC0/vm/no-such-vm", template), 64));
            assertEquals("source.vm", missing.field());
            assertTrue(missing.getMessage().contains("no VM at inventory path 'DC0/vm/no-such-vm'"), missing.getMessage());

            InvalidInputException folder = assertThrows(InvalidInputException.class,
                    () -> jobs.expand(wholeVm("DC0/vm", template), 64));
            assertEquals("source.vm", folder.field());
            assertTrue(folder.getMessage().contains("not a VM"), folder.getMessage());

            InvalidInputException outside = assertThrows(InvalidInputException.class,
                    () -> jobs.expand(wholeVm(Vcsim.VM_PATH, dir + "/elsewhere/{disk_key}.img"), 64));
            assertEquals(TargetTemplate.FIELD, outside.field());
            assertTrue(outside.getMessage().contains("is outside the allowed storage roots"), outside.getMessage());

            InvalidInputException upward = assertThrows(InvalidInputException.class,
                    () -> jobs.expand(wholeVm(Vcsim.VM_PATH, roots + "/../{disk_key}.img"), 64));
            assertEquals(TargetTemplate.FIELD, upward.field());

            InvalidInputException unknown = assertThrows(InvalidInputException.class, () -> jobs.expand(
                    new JobSpec("whole", "web01", JobSpec.Source.vmware("vc9", Vcsim.VM_PATH, null), null, null, null,
                            template), 64));
            assertEquals("source.vcenter", unknown.field());

            VcenterException refused = assertThrows(VcenterException.class, () -> jobs(vcsim,
                    password(dir, "wrong-password"), policy).expand(wholeVm(Vcsim.VM_PATH, template), 64));
            assertEquals(VcenterException.Kind.REFUSED, refused.kind());
            assertTrue(refused.getMessage().contains("refused the login"), refused.getMessage());
            assertFalse(refused.getMessage().contains("wrong-password"), "no secret: " + refused.getMessage());

            vcsim.outage(Duration.ofSeconds(5));
            VcenterException unreachable = assertThrows(VcenterException.class,
                    () -> jobs.expand(wholeVm(Vcsim.VM_PATH, template), 64));
            assertEquals(VcenterException.Kind.UNREACHABLE, unreachable.kind());
            assertTrue(unreachable.getMessage().contains("vCenter vc1"), unreachable.getMessage());
            assertFalse(unreachable.getMessage().contains(PASSWORD), "no secret: " + unreachable.getMessage());
        }
    }
}
