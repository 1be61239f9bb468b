package org.blockferry.engine.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** A whole-VM job's target template: its placeholders, the VM's name in it, and where it may lead. */
class TargetTemplateTest {
    private static final String VM_PATH = "DC0/vm/prod/web01";

    private static InvalidInputException refused(String template, String vmPath) {
        return assertThrows(InvalidInputException.class, () -> TargetTemplate.of(template, vmPath).expand(2000));
    }

    @Test
    void fillsInTheVmNameAndTheDiskKey() {
        assertEquals("/data/web01/2001.img", TargetTemplate.of("/data/{vm}/{disk_key}.img", VM_PATH).expand(2001));
        assertEquals("nbd://primary:10809/web01-2000",
                TargetTemplate.of("nbd://primary:10809/{vm}-{disk_key}", VM_PATH).expand(2000));
        assertEquals("/data/2000-2000.img", TargetTemplate.of("/data/{disk_key}-{disk_key}.img", VM_PATH).expand(2000));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "DC0/vm/web 01 (old)      | web_01__old_",
        "DC0/vm/a%2fb             | a_2fb",
        "DC0/vm/é{x}$HOME;rm      | __x__HOME_rm",
        "DC0/vm/...               | ...",
        "DC0/vm/.hidden           | .hidden"})
    void theVmNameKeepsOnlyLettersDigitsDotsUnderscoresAndDashes(String vmPath, String name) {
        assertEquals("/data/" + name + "-2000.img", TargetTemplate.of("/data/{vm}-{disk_key}.img", vmPath).expand(2000));
    }

    /** A name that would walk up or stay in the directory is refused, whatever the template around it. */
    @ParameterizedTest
    @ValueSource(strings = {"DC0/vm/..", "DC0/vm/.", "DC0/vm/"})
    void aVmNameThatCannotNameATargetIsRefused(String vmPath) {
        InvalidInputException e = refused("/data/{vm}/{disk_key}.img", vmPath);
        assertEquals(TargetTemplate.FIELD, e.field());
        assertTrue(e.getMessage().contains("{vm} would be"), e.getMessage());
        assertEquals("/data/2000.img", TargetTemplate.of("/data/{disk_key}.img", vmPath).expand(2000),
                "without {vm} the VM's name does not matter");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "/data/{vm}.img                | has no {disk_key}",
        "/data/disk.img                | has no {disk_key}",
        "/data/{vm}-{key}.img          | '{key}' is not a placeholder",
        "/data/{VM}-{disk_key}.img     | '{VM}' is not a placeholder",
        "/data/{}-{disk_key}.img       | '{}' is not a placeholder",
        "/data/{{disk_key}}.img        | '{{disk_key}' is not a placeholder",
        "/data/{disk_key.img           | without its '}'",
        "/data/disk_key}.img           | without its '{'",
        "data/{disk_key}.img           | is a relative path",
        "http://x/{disk_key}           | unsupported URI scheme",
        "nbd:///{disk_key}             | names no host"})
    void aTemplateThatCannotNameEachDiskIsRefused(String template, String why) {
        InvalidInputException e = refused(template, VM_PATH);
        assertEquals(TargetTemplate.FIELD, e.field());
        assertTrue(e.getMessage().contains(why), e.getMessage());
    }

    @Test
    void anExpandedTargetIsAtMostAsLongAsAnyString() {
        String vmPath = "DC0/vm/" + "v".repeat(4000);
        InvalidInputException e = refused("/data/{vm}/{vm}/{disk_key}.img", vmPath);
        assertEquals(TargetTemplate.FIELD, e.field());
        assertTrue(e.getMessage().contains("at most " + JobSpecReader.MAX_STRING), e.getMessage());
    }

    // ---- the job spec around it ----

    private static final String VMWARE = "\"source\": {\"kind\": \"vmware\", \"vcenter\": \"vc1\", \"vm\": \"" + VM_PATH
            + "\"}";
    private static final String DISKS = "\"disks\": [{\"id\": \"d0\", \"source\": \"2000\", \"target\": \"/data/d0.img\"}]";

    private static JobSpec read(String fields) {
        return JobSpecReader.read(("{\"job_id\": \"j1\", \"vm\": \"web01\", " + fields + "}")
                .getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void aWholeVmSpecIsCheckedButItsDisksAndExpandedIntoThem() {
        JobSpec read = read(VMWARE + ", \"target_template\": \"/data/{vm}-{disk_key}.img\"");
        JobSpec checked = read.validatedWholeVm();
        assertEquals("/data/{vm}-{disk_key}.img", checked.targetTemplate());
        assertNull(checked.disks());
        assertEquals(TargetTemplate.FIELD, assertThrows(InvalidInputException.class, read::validated).field(),
                "a template is never a job that runs");
        JobSpec expanded = checked.withDisks(List.of(new JobSpec.Disk("2000", "2000", "/data/web01-2000.img")))
                .validated();
        assertNull(expanded.targetTemplate());
        assertEquals("2000", expanded.disks().get(0).id());
        assertEquals("j2", read.withJobId("j2").validatedWholeVm().jobId());
        assertEquals("/data/{vm}-{disk_key}.img", read.withJobId("j2").targetTemplate());
    }

    @Test
    void aTemplateBesideDisksOrForAnotherKindIsRefusedAndNeitherNamesDisks() {
        InvalidInputException both = assertThrows(InvalidInputException.class, () -> read(VMWARE + ", " + DISKS
                + ", \"target_template\": \"/data/{disk_key}.img\"").validated());
        assertEquals(TargetTemplate.FIELD, both.field());
        assertTrue(both.getMessage().contains("not both"), both.getMessage());
        InvalidInputException nbd = assertThrows(InvalidInputException.class, () -> read(
                "\"target_template\": \"/data/{disk_key}.img\"").validatedWholeVm());
        assertEquals(TargetTemplate.FIELD, nbd.field());
        assertTrue(nbd.getMessage().contains("vmware only"), nbd.getMessage());
        InvalidInputException neither = assertThrows(InvalidInputException.class, () -> read(VMWARE).validated());
        assertEquals("disks", neither.field());
        assertTrue(neither.getMessage().contains("target_template"), "says what else works: " + neither.getMessage());
    }
}
