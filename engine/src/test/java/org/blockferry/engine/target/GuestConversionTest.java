package org.blockferry.engine.target;

import static org.blockferry.engine.testing.DebianGuestImage.ROOT_OFFSET;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.testing.DebianGuestImage;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Guest conversion: first the child process's bounds (environment, timeout, missing program)
 * with small stand-in scripts, then a real conversion of a debootstrapped Debian 12 guest by
 * virt-v2v-in-place (two disks, the root on the second, a KVM that hangs), checked on its disks
 * with debugfs and lsinitramfs. The one-disk conversion through a job's cutover, and the boot of
 * the converted guest from a virtio disk, are the api module's CloudStackConversionTest.
 */
class GuestConversionTest {
    private static final Path KVM = Path.of("/dev/kvm");
    private static Path root;

    @BeforeAll
    static void workDir() throws IOException {
        root = Files.createDirectories(Path.of("target", "guest-conversion").toAbsolutePath());
    }

    private static Path fresh(String name) throws IOException {
        Path dir = root.resolve(name);
        if (Files.exists(dir)) {
            try (var paths = Files.walk(dir)) {
                for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
        return Files.createDirectories(dir);
    }

    private static Path script(Path dir, String name, String body) throws IOException {
        Path file = dir.resolve(name);
        Files.writeString(file, "#!/bin/sh\n" + body);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
        return file;
    }

    private static GuestConversion conversion(String command, Duration timeout, String settings, Duration launch,
            Path kvm, Map<String, String> node) {
        return new GuestConversion(command, timeout, settings, launch, kvm, node);
    }

    // --- The child process ----------------------------------------------------------------------

    @Test
    void theChildGetsOnlyItsAllowlistAndTheErrorCarriesVirtV2vsLastLines() throws IOException {
        Path work = fresh("environment");
        Path disk = Files.writeString(work.resolve("disk.img"), "not a guest");
        Path command = script(work, "v2v", """
                tr '\\0' '\\n' < /proc/$$/environ > "$HOME/env.txt"
                echo '{ "message": "inspection could not detect the source guest", "type": "error" }'
                echo 'libguestfs: trace: v2v: inspect_os = []' >&2
                echo 'virt-v2v-in-place: error: inspection could not detect the source guest' >&2
                exit 1
                """);
        Map<String, String> node = Map.of("PATH", "/usr/bin:/bin", "HOME", "/root", "LANG", "de_DE.UTF-8",
                "BLOCKFERRY_API_TOKEN", "s3cr3t-token", "PGPASSWORD", "s3cr3t-db", "AWS_SECRET_ACCESS_KEY", "s3cr3t-aws");
        GuestConversion c = conversion(command.toString(), Duration.ofMinutes(1), "force_tcg", Duration.ofSeconds(5),
                KVM, node);

        IOException e = assertThrows(IOException.class, () -> c.convert(List.of(disk), "vm-1", work));

        Set<String> env = new TreeSet<>(Files.readAllLines(work.resolve("env.txt")));
        assertEquals(new TreeSet<>(List.of("PATH=/usr/bin:/bin", "HOME=" + work, "TMPDIR=" + work, "LANG=C", "LC_ALL=C",
                "LIBGUESTFS_BACKEND=direct", "LIBGUESTFS_BACKEND_SETTINGS=force_tcg")), env);
        assertTrue(e.getMessage().startsWith("guest conversion of VM vm-1 failed: virt-v2v-in-place exited with status 1"
                + " (LIBGUESTFS_BACKEND_SETTINGS=force_tcg)\nerror: inspection could not detect the source guest\n"),
                e.getMessage());
        assertTrue(e.getMessage().endsWith("virt-v2v-in-place: error: inspection could not detect the source guest"),
                e.getMessage());
        assertFalse(e.getMessage().contains("s3cr3t"), e.getMessage());
    }

    @Test
    void theDomainXmlListsEveryDiskInOrderAsBlockOrFile() throws IOException {
        Path work = fresh("domain-xml");
        Path file = Files.writeString(work.resolve("data&more.img"), "");
        String xml = DomainXml.of("web<1>", List.of(file, Path.of("/dev/null")));
        assertTrue(xml.contains("<name>web&lt;1&gt;</name>"), xml);
        int first = xml.indexOf("<source file='" + work + "/data&amp;more.img'/>");
        int second = xml.indexOf("<source dev='/dev/null'/>");
        assertTrue(first > 0 && second > first, xml);
        assertTrue(xml.indexOf("<target dev='sda' bus='scsi'/>") < xml.indexOf("<target dev='sdb' bus='scsi'/>"), xml);
        assertEquals("sdaa", DomainXml.scsiName(26));
        List<Path> disks = java.util.stream.IntStream.range(0, 28).mapToObj(i -> Path.of("/dev/d" + i)).toList();
        assertEquals(Path.of("/dev/d27"), GuestConversion.diskOf("/dev/sdab3", disks));
        assertEquals(null, GuestConversion.diskOf("/dev/vg0/root", disks));
    }

    @Test
    void aConversionPastItsTimeoutIsKilledWithItsChildren() throws Exception {
        Path work = fresh("timeout");
        Path disk = Files.writeString(work.resolve("disk.img"), "");
        Path command = script(work, "v2v", """
                sleep 600 &
                echo $! > "$HOME/child.pid"
                wait
                """);
        GuestConversion c = conversion(command.toString(), Duration.ofSeconds(2), "force_tcg", Duration.ofSeconds(5),
                KVM, System.getenv());

        Instant start = Instant.now();
        IOException e = assertThrows(IOException.class, () -> c.convert(List.of(disk), "vm-2", work));

        assertTrue(Duration.between(start, Instant.now()).compareTo(Duration.ofSeconds(20)) < 0);
        assertTrue(e.getMessage().startsWith("guest conversion of VM vm-2 did not finish within 2 s"
                + " (blockferry.cloudstack.conversion.timeout); virt-v2v-in-place was killed"), e.getMessage());
        long child = Long.parseLong(Files.readString(work.resolve("child.pid")).strip());
        assertFalse(ProcessHandle.of(child).map(ProcessHandle::isAlive).orElse(false), "sleep " + child + " survived");
    }

    @Test
    void aMissingProgramNamesTheDebianPackages() throws IOException {
        Path work = fresh("missing");
        Path disk = Files.writeString(work.resolve("disk.img"), "");
        GuestConversion c = conversion(work.resolve("virt-v2v-in-place").toString(), Duration.ofMinutes(1), "",
                Duration.ofSeconds(5), KVM, System.getenv());
        IOException e = assertThrows(IOException.class, () -> c.convert(List.of(disk), "vm-3", work));
        assertTrue(e.getMessage().endsWith("guest conversion needs it: apt-get install virt-v2v libguestfs-tools"),
                e.getMessage());
    }

    @Test
    void theReferenceConfigurationHasTheDocumentedDefaultsAndABadValueNamesItsKey() {
        GuestConversion c = GuestConversion.fromConfig(ConfigFactory.load());
        assertEquals("command=virt-v2v-in-place timeout=1800s backend-settings= kvm-launch-timeout=60s", c.settings());
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> GuestConversion.fromConfig(
                ConfigFactory.parseString("blockferry.cloudstack.conversion.timeout = 0s")
                        .withFallback(ConfigFactory.load())));
        assertEquals("blockferry.cloudstack.conversion.timeout", e.field());
    }

    // --- A real guest ---------------------------------------------------------------------------

    private static Path guestImage() throws IOException {
        DebianGuestImage.requirePrograms("guest conversion", "virt-v2v-in-place", "virt-v2v", "debugfs", "e2fsprogs");
        Instant start = Instant.now();
        Path image = DebianGuestImage.cached();
        System.out.printf("event=guest-image image=%s took_s=%d%n", image.getFileName(),
                Duration.between(start, Instant.now()).toSeconds());
        return image;
    }

    @Test
    @Timeout(value = 25, unit = TimeUnit.MINUTES)
    void theRootOnTheSecondDiskIsFoundAndAKvmThatHangsFallsBackToEmulation() throws Exception {
        Path image = guestImage();
        Path work = fresh("debian12-two-disks");
        Path data = work.resolve("data.img");
        try (var f = new java.io.RandomAccessFile(data.toFile(), "rw")) {
            f.setLength(64L << 20);
        }
        run("sh", "-c", "printf 'label: dos\\nstart=2048, type=83\\n' | sfdisk -q " + data);
        run("mkfs.ext4", "-q", "-F", "-L", "bf-data", "-E", "offset=" + ROOT_OFFSET, data.toString(), "63M");
        Path system = DebianGuestImage.copy(image, work.resolve("system.img"));
        DebianGuestImage.writeFile(system, ROOT_OFFSET, "/etc/fstab",
                "/dev/sdb1 / ext4 errors=remount-ro 0 1\n/dev/sda1 /srv ext4 defaults 0 2\n", work.resolve("fstab"));
        // KVM as this machine's nested one fails: the appliance never comes up. The stand-in hangs
        // like it unless told force_tcg, then is the real program.
        Path command = script(work, "v2v-kvm-hangs", """
                case "$LIBGUESTFS_BACKEND_SETTINGS" in
                  *force_tcg*) exec virt-v2v-in-place "$@" ;;
                esac
                sleep 600 &
                echo $! > "$HOME/hung.pid"
                wait
                """);
        Path kvm = Files.writeString(work.resolve("kvm"), "");
        GuestConversion c = conversion(command.toString(), Duration.ofMinutes(20), "", Duration.ofSeconds(5), kvm,
                System.getenv());

        GuestConversion.Outcome outcome = c.convert(List.of(data, system), "two-disks", work.resolve("conversion"));
        System.out.printf("event=guest-converted disks=2 took_s=%d summary=%s%n", outcome.took().toSeconds(),
                outcome.summary());

        assertEquals(system, outcome.rootDevice());
        assertEquals("/dev/sdb1", outcome.rootFilesystem());
        assertTrue(outcome.softwareEmulation());
        long hung = Long.parseLong(Files.readString(work.resolve("conversion/hung.pid")).strip());
        assertFalse(ProcessHandle.of(hung).map(ProcessHandle::isAlive).orElse(false), "the KVM run's child survived");
        assertEquals(List.of("/dev/vdb1 / ext4 errors=remount-ro 0 1", "/dev/vda1 /srv ext4 defaults 0 2"),
                fstabEntries(system));
        assertTrue(initramfs(system, work).stream().anyMatch(p -> p.endsWith("/virtio_blk.ko")));
        try (var left = Files.list(work.resolve("conversion"))) {
            assertEquals(List.of("domain.xml", "hung.pid", "virt-v2v-1.jsonl", "virt-v2v-1.log", "virt-v2v-2.jsonl",
                    "virt-v2v-2.log"), left.map(p -> p.getFileName().toString()).sorted().toList(),
                    "the appliance and the killed run's scratch are removed, the logs kept");
        }
        Files.delete(system);
    }

    private static List<String> fstabEntries(Path disk) throws IOException {
        return Arrays.stream(DebianGuestImage.readFile(disk, ROOT_OFFSET, "/etc/fstab").split("\n"))
                .filter(l -> !l.isBlank() && !l.startsWith("#")).collect(Collectors.toList());
    }

    private static List<String> initramfs(Path disk, Path work) throws IOException {
        String name = DebianGuestImage.list(disk, ROOT_OFFSET, "/boot").stream()
                .filter(n -> n.startsWith("initrd.img-") && !n.endsWith(".pre-v2v")).findFirst()
                .orElseThrow(() -> new AssertionError("no initrd.img-* in /boot of " + disk));
        return DebianGuestImage.initramfs(disk, ROOT_OFFSET, name, work.resolve("initrd"));
    }

    private static String run(String... command) throws IOException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        try {
            if (!p.waitFor(1, TimeUnit.MINUTES) || p.exitValue() != 0) {
                throw new IOException(String.join(" ", command) + " failed: " + out);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
        return out;
    }
}
