package org.blockferry.engine.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.blockferry.engine.endpoint.DiskLocation;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.junit.jupiter.api.Test;

/** A job's {@code cloudstack} target as a client sends it: the node names the volumes, the client names a cloud. */
class JobSpecCloudTargetTest {

    private static JobSpec read(String json) {
        return JobSpecReader.read(json.getBytes(StandardCharsets.UTF_8)).validated();
    }

    private static InvalidInputException refused(String json) {
        return assertThrows(InvalidInputException.class, () -> read(json));
    }

    @Test
    void eachDiskGetsAVolumeNamedAfterTheVmAndTheDisk() {
        JobSpec spec = read("""
                {"vm": "web 01/α", "source": {"kind": "qemu"}, "target": {"kind": "cloudstack", "cloud": "c1"},
                 "disks": [{"id": "root", "source": "/data/root.qcow2"},
                           {"id": "data", "source": "/data/data.qcow2", "disk_offering": "Fast SSD"}],
                 "options": {"keep_volumes": true}}""");
        assertEquals("cloudstack://c1/bf-web_01__-root", spec.disks().get(0).target());
        assertEquals("cloudstack://c1/bf-web_01__-data", spec.disks().get(1).target());
        assertEquals("Fast SSD", spec.disks().get(1).diskOffering());
        assertTrue(spec.options().keepVolumes());
        DiskLocation.CloudVolume v = (DiskLocation.CloudVolume) DiskLocation.parse("t", spec.disks().get(0).target());
        assertEquals("c1", v.cloud());
        assertEquals("bf-web_01__-root", v.name());
        assertEquals(spec, spec.validated(), "validating again changes nothing (a spec is checked on every node)");
    }

    @Test
    void aLongVmNameIsCutSoTheVolumeNameStaysShort() {
        String vm = "v".repeat(255);
        assertEquals(3 + 180 + 1 + 2, JobSpec.volumeName(vm, "d0").length());
    }

    @Test
    void aClientNeverNamesAVolumeOrADevice() {
        InvalidInputException byUri = refused("""
                {"vm": "vm", "source": {"kind": "qemu"},
                 "disks": [{"id": "d0", "source": "/data/a.qcow2", "target": "cloudstack://c1/bf-vm-d0"}]}""");
        assertEquals("disks[0].target", byUri.field());
        assertTrue(byUri.getMessage().contains("\"kind\": \"cloudstack\""), byUri.getMessage());

        InvalidInputException asSource = refused("""
                {"vm": "vm", "source": {"kind": "nbd"},
                 "disks": [{"id": "d0", "source": "cloudstack://c1/bf-other-d0", "target": "/data/x.img"}]}""");
        assertEquals("disks[0].source", asSource.field());

        InvalidInputException pathBeside = refused("""
                {"vm": "vm", "source": {"kind": "qemu"}, "target": {"kind": "cloudstack", "cloud": "c1"},
                 "disks": [{"id": "d0", "source": "/data/a.qcow2", "target": "/dev/disk/by-id/virtio-0123"}]}""");
        assertEquals("disks[0].target", pathBeside.field());
        assertTrue(pathBeside.getMessage().contains("must be left out"), pathBeside.getMessage());

        InvalidInputException otherVolume = refused("""
                {"vm": "vm", "source": {"kind": "qemu"}, "target": {"kind": "cloudstack", "cloud": "c1"},
                 "disks": [{"id": "d0", "source": "/data/a.qcow2", "target": "cloudstack://c1/bf-other-d0"}]}""");
        assertEquals("disks[0].target", otherVolume.field());
    }

    @Test
    void badTargetsAreRefusedNamingTheField() {
        record Case(String json, String field, String says) {
        }
        String disks = "\"disks\": [{\"id\": \"d0\", \"source\": \"/data/a.qcow2\"}]";
        List<Case> cases = List.of(
                new Case("{\"vm\": \"vm\", \"source\": {\"kind\": \"qemu\"}, \"target\": {\"kind\": \"s3\","
                        + " \"cloud\": \"c1\"}, " + disks + "}", "target.kind", "not a target kind"),
                new Case("{\"vm\": \"vm\", \"source\": {\"kind\": \"qemu\"}, \"target\": {\"kind\": \"cloudstack\"}, "
                        + disks + "}", "target.cloud", "is required"),
                new Case("{\"vm\": \"vm\", \"source\": {\"kind\": \"qemu\"}, \"target\": {\"kind\": \"cloudstack\","
                        + " \"cloud\": \"../c1\"}, " + disks + "}", "target.cloud", "not a cloud name"),
                new Case("{\"vm\": \"vm\", \"source\": {\"kind\": \"qemu\"}, \"target\": {\"kind\": \"cloudstack\","
                        + " \"cloud\": \"c1\", \"url\": \"https://evil\"}, " + disks + "}", "target.url",
                        "unknown field"),
                new Case("{\"vm\": \"vm\", \"source\": {\"kind\": \"qemu\"}, \"target\": {\"kind\": \"cloudstack\","
                        + " \"cloud\": \"c1\"}, \"disks\": [{\"id\": \"d0\", \"source\": \"/data/a.qcow2\","
                        + " \"disk_offering\": \"x;rm -rf /\"}]}", "disks[0].disk_offering", "not a disk offering"),
                new Case("{\"vm\": \"vm\", \"source\": {\"kind\": \"qemu\"}, \"disks\": [{\"id\": \"d0\", \"source\":"
                        + " \"/data/a.qcow2\", \"target\": \"/data/b.img\", \"disk_offering\": \"fast\"}]}",
                        "disks[0].disk_offering", "cloudstack target only"),
                new Case("{\"vm\": \"vm\", \"source\": {\"kind\": \"qemu\"}, \"options\": {\"keep_volumes\": true},"
                        + " \"disks\": [{\"id\": \"d0\", \"source\": \"/data/a.qcow2\", \"target\": \"/data/b.img\"}]}",
                        "options.keep_volumes", "cloudstack target only"),
                new Case(cloudJob("{\"final_sync\": true, \"create_vm\": {\"service_offering\": \"1; drop\","
                        + " \"placeholder_template\": \"" + UUID + "\"}}"), "options.create_vm.service_offering",
                        "not a CloudStack id"),
                new Case(cloudJob("{\"final_sync\": true, \"create_vm\": {\"service_offering\": \"" + UUID
                        + "\"}}"), "options.create_vm.placeholder_template", "is required"),
                new Case(cloudJob("{\"final_sync\": true, \"create_vm\": {\"service_offering\": \"" + UUID
                        + "\", \"placeholder_template\": \"" + UUID + "\", \"networks\": [\"" + UUID
                        + "\", \"../net\"]}}"), "options.create_vm.networks[1]", "not a CloudStack id"),
                new Case(cloudJob("{\"final_sync\": true, \"create_vm\": {\"service_offering\": \"" + UUID
                        + "\", \"placeholder_template\": \"" + UUID + "\", \"networks\": ["
                        + String.join(", ", java.util.Collections.nCopies(17, "\"" + UUID + "\"")) + "]}}"),
                        "options.create_vm.networks", "at most 16"),
                new Case(cloudJob("{\"create_vm\": {\"service_offering\": \"" + UUID + "\","
                        + " \"placeholder_template\": \"" + UUID + "\"}}"), "options.create_vm", "is for the cutover"),
                new Case(cloudJob("{\"convert\": true}"), "options.convert", "is for the cutover"),
                new Case("{\"vm\": \"vm\", \"source\": {\"kind\": \"qemu\"}, \"options\": {\"final_sync\": true},"
                        + " \"disks\": [{\"id\": \"d0\", \"source\": \"/data/a.qcow2\", \"target\": \"/data/b.img\"}]}",
                        "options.final_sync", "or a cloudstack target"),
                new Case("{\"vm\": \"vm\", \"source\": {\"kind\": \"vmware\", \"vcenter\": \"vc1\", \"vm\":"
                        + " \"DC0/vm/web\"}, \"target\": {\"kind\": \"cloudstack\", \"cloud\": \"c1\"},"
                        + " \"target_template\": \"/data/{vm}-{disk_key}.img\"}", "target_template",
                        "the node names the volumes"));
        for (Case c : cases) {
            InvalidInputException e = assertThrows(InvalidInputException.class, () -> {
                JobSpec s = JobSpecReader.read(c.json().getBytes(StandardCharsets.UTF_8));
                if (s.wholeVm()) {
                    s.validatedWholeVm();
                } else {
                    s.validated();
                }
            }, c.json());
            assertEquals(c.field(), e.field(), e.getMessage());
            assertTrue(e.getMessage().contains(c.says()), e.getMessage());
        }
    }

    private static final String UUID = "5b0f2c4e-91d3-4a57-8a7e-0123456789ab";

    /** A qemu job to cloud c1 with these options. */
    private static String cloudJob(String options) {
        return "{\"vm\": \"vm\", \"source\": {\"kind\": \"qemu\"}, \"target\": {\"kind\": \"cloudstack\","
                + " \"cloud\": \"c1\"}, \"disks\": [{\"id\": \"d0\", \"source\": \"/data/a.qcow2\"}],"
                + " \"options\": " + options + "}";
    }

    @Test
    void aCutoverJobKeepsItsVmRequest() {
        JobSpec spec = read(cloudJob("{\"final_sync\": true, \"convert\": true, \"create_vm\": {"
                + "\"service_offering\": \"" + UUID + "\", \"placeholder_template\": \"" + UUID + "\","
                + " \"networks\": [\"" + UUID + "\"], \"start\": true}}"));
        assertTrue(spec.cutover());
        assertTrue(spec.options().convert());
        assertEquals(List.of(UUID), spec.options().createVm().networks());
        assertTrue(spec.options().createVm().start());
    }

    @Test
    void aVmwareJobWithACloudTargetAndNoDisksIsAWholeVmJob() {
        JobSpec spec = JobSpecReader.read("""
                {"vm": "web", "source": {"kind": "vmware", "vcenter": "vc1", "vm": "DC0/vm/web"},
                 "target": {"kind": "cloudstack", "cloud": "c1"}}""".getBytes(StandardCharsets.UTF_8));
        assertTrue(spec.wholeVm());
        JobSpec expanded = spec.validatedWholeVm().withDisks(List.of(new JobSpec.Disk("2000", "2000", null)))
                .validated();
        assertEquals("cloudstack://c1/bf-web-2000", expanded.disks().get(0).target());
        assertFalse(expanded.wholeVm());
    }
}
