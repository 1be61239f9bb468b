package org.blockferry.engine.target;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.blockferry.engine.endpoint.ChildEnvironment;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Converts a migrated VM's guest in place so it boots on KVM (virtio drivers in its initramfs,
 * its fstab and boot configuration on virtio names), by running virt-v2v-in-place on the disks the
 * last sync wrote. Used at cutover when a job asks for {@code options.convert}.
 *
 * <p>Accelerator: with {@code backend-settings} empty, a conversion starts on KVM when /dev/kvm
 * can be opened, and falls back once to software emulation ({@code force_tcg}) when the appliance
 * is not up within {@code kvm-launch-timeout} (a KVM that cannot run stock kernels hangs there,
 * nested on some clouds) or the KVM run fails. After such a fallback succeeds this instance
 * converts under emulation only. A non-empty {@code backend-settings} is passed as it is, with no
 * fallback. Software emulation is slower (about a minute for a small Linux guest) but works anywhere.
 */
public final class GuestConversion {
    static final String KEY = "blockferry.cloudstack.conversion";
    static final String FORCE_TCG = "force_tcg";
    private static final Logger log = LoggerFactory.getLogger(GuestConversion.class);
    private static final Pattern SCSI_NAME = Pattern.compile("/dev/sd([a-z]+)\\d*");
    private static final int ERROR_LINES = 15;
    private static final Pattern SCRATCH = Pattern.compile("\\.guestfs-\\d+|libguestfs\\w+|v2v\\.\\w+|v2vnbdkit\\.\\w+");

    /**
     * What conversion did. {@code rootDevice} is the disk of {@code disks} that holds the root file
     * system inspection chose, {@code null} when that is not a partition of one disk (LVM, RAID):
     * {@code rootFilesystem} then names it as the appliance saw it ({@code /dev/sda1}, {@code /dev/vg/root}).
     * {@code summary} is virt-v2v's conversion line, warnings and notes on one line;
     * {@code softwareEmulation} says the appliance ran under TCG, not KVM.
     */
    public record Outcome(Path rootDevice, String operatingSystem, String summary, Duration took,
            String rootFilesystem, boolean softwareEmulation) {
    }

    private final String command;
    private final Duration timeout;
    private final String backendSettings;
    private final Duration kvmLaunchTimeout;
    private final Path kvmDevice;
    private final Map<String, String> nodeEnvironment;
    /** Set once KVM hung or failed where emulation then worked: later conversions skip KVM. */
    private final AtomicBoolean kvmUnusable = new AtomicBoolean();

    GuestConversion(String command, Duration timeout, String backendSettings, Duration kvmLaunchTimeout,
            Path kvmDevice, Map<String, String> nodeEnvironment) {
        if (command == null || command.isBlank()) {
            throw new InvalidInputException(KEY + ".command", "must name the virt-v2v-in-place program");
        }
        if (timeout.isNegative() || timeout.isZero()) {
            throw new InvalidInputException(KEY + ".timeout", "must be positive, got " + timeout);
        }
        if (kvmLaunchTimeout.isNegative() || kvmLaunchTimeout.isZero()) {
            throw new InvalidInputException(KEY + ".kvm-launch-timeout", "must be positive, got " + kvmLaunchTimeout);
        }
        this.command = command;
        this.timeout = timeout;
        this.backendSettings = backendSettings.strip();
        this.kvmLaunchTimeout = kvmLaunchTimeout;
        this.kvmDevice = kvmDevice;
        this.nodeEnvironment = Map.copyOf(nodeEnvironment);
    }

    /** Settings from {@code blockferry.cloudstack.conversion} of the node's configuration (defaults when absent). */
    public static GuestConversion fromConfig(Config config) {
        Config c = config.hasPath(KEY) ? config.getConfig(KEY) : ConfigFactory.empty();
        return new GuestConversion(c.hasPath("command") ? c.getString("command") : "virt-v2v-in-place",
                c.hasPath("timeout") ? c.getDuration("timeout") : Duration.ofMinutes(30),
                c.hasPath("backend-settings") ? c.getString("backend-settings") : "",
                c.hasPath("kvm-launch-timeout") ? c.getDuration("kvm-launch-timeout") : Duration.ofSeconds(60),
                Path.of("/dev/kvm"), System.getenv());
    }

    /** The settings in force, for the node's start-up log. */
    public String settings() {
        return "command=" + command + " timeout=" + timeout.toSeconds() + "s backend-settings=" + backendSettings
                + " kvm-launch-timeout=" + kvmLaunchTimeout.toSeconds() + "s";
    }

    /**
     * Converts the guest whose disks are {@code disks} (block devices or raw image files, all of the
     * VM's disks in its order), using {@code workDir} for the domain XML, the logs and the
     * appliance. Throws with virt-v2v's errors and last log lines on failure or timeout (the child
     * and its children killed).
     */
    public Outcome convert(List<Path> disks, String vmName, Path workDir) throws IOException {
        if (disks.isEmpty()) {
            throw new IllegalArgumentException("no disk to convert for VM " + vmName);
        }
        for (Path disk : disks) {
            if (!Files.exists(disk)) {
                throw new IOException("cannot convert VM " + vmName + ": its disk " + disk + " does not exist");
            }
        }
        Files.createDirectories(workDir);
        Path xml = workDir.resolve("domain.xml");
        Files.writeString(xml, DomainXml.of(vmName, disks));
        Instant start = Instant.now();
        Instant deadline = start.plus(timeout);
        boolean kvm = Files.isReadable(kvmDevice) && Files.isWritable(kvmDevice);
        boolean kvmFirst = kvm && backendSettings.isEmpty() && !kvmUnusable.get();
        String settings = backendSettings.isEmpty() && kvmUnusable.get() ? FORCE_TCG : backendSettings;
        Attempt attempt;
        try {
            attempt = attempt(1, xml, workDir, settings, deadline, kvmFirst ? kvmLaunchTimeout : null);
            if (!attempt.result.succeeded() && kvmFirst && attempt.result.ending() != ConversionRun.Ending.TIMED_OUT) {
                log.info("event=conversion-kvm-failed vm={} ending={} exit={} then=force_tcg", vmName,
                        attempt.result.ending(), attempt.result.exitCode());
                attempt = attempt(2, xml, workDir, FORCE_TCG, deadline, null);
                if (attempt.result.succeeded()) {
                    kvmUnusable.set(true);
                }
            }
        } finally {
            removeScratch(workDir);
        }
        if (!attempt.result.succeeded()) {
            throw failure(vmName, attempt);
        }
        Outcome outcome = outcome(disks, attempt, Duration.between(start, Instant.now()),
                !kvm || attempt.settings.contains(FORCE_TCG));
        log.info("event=guest-converted vm={} root={} os={} emulated={} took_s={}", vmName, outcome.rootFilesystem(),
                outcome.operatingSystem(), outcome.softwareEmulation(), outcome.took().toSeconds());
        return outcome;
    }

    private record Attempt(String settings, ConversionRun.Result result, Path messages, Path log) {
    }

    private Attempt attempt(int n, Path xml, Path workDir, String settings, Instant deadline, Duration launchTimeout)
            throws IOException {
        Path messages = workDir.resolve("virt-v2v-" + n + ".jsonl");
        Path debugLog = workDir.resolve("virt-v2v-" + n + ".log");
        List<String> argv = List.of(command, "--machine-readable", "-v", "-x", "-i", "libvirtxml", xml.toString());
        try {
            return new Attempt(settings, ConversionRun.run(argv, environment(workDir, settings), workDir, messages,
                    debugLog, deadline, launchTimeout), messages, debugLog);
        } catch (IOException e) {
            if (e.getMessage() != null && e.getMessage().startsWith("Cannot run program")) {
                throw new IOException("cannot run " + command + " (" + e.getMessage() + "); guest conversion needs"
                        + " it: apt-get install virt-v2v libguestfs-tools", e);
            }
            throw e;
        }
    }

    /**
     * Removes what libguestfs and virt-v2v leave in workDir (HOME and TMPDIR of the child): the
     * appliance (some 700 MB, built anew by each conversion) and a killed run's overlays and
     * sockets. The XML, logs and messages stay.
     */
    private static void removeScratch(Path workDir) throws IOException {
        try (Stream<Path> entries = Files.list(workDir)) {
            for (Path p : entries.filter(p -> SCRATCH.matcher(p.getFileName().toString()).matches()).toList()) {
                try (Stream<Path> tree = Files.walk(p)) {
                    for (Path q : tree.sorted(Comparator.reverseOrder()).toList()) {
                        Files.deleteIfExists(q);
                    }
                }
            }
        }
    }

    /** The child's whole environment: the node's allowlisted few, its home and temp in workDir, libguestfs's backend. */
    Map<String, String> environment(Path workDir, String settings) {
        Map<String, String> env = new TreeMap<>(ChildEnvironment.of(nodeEnvironment));
        env.put("HOME", workDir.toString());
        env.put("TMPDIR", workDir.toString());
        env.put("LIBGUESTFS_BACKEND", "direct");
        if (!settings.isEmpty()) {
            env.put("LIBGUESTFS_BACKEND_SETTINGS", settings);
        }
        return env;
    }

    private IOException failure(String vmName, Attempt attempt) throws IOException {
        StringBuilder m = new StringBuilder("guest conversion of VM ").append(vmName);
        switch (attempt.result.ending()) {
            case TIMED_OUT -> m.append(" did not finish within ").append(timeout.toSeconds()).append(" s (")
                    .append(KEY).append(".timeout); virt-v2v-in-place was killed");
            case LAUNCH_TIMED_OUT -> m.append(": the libguestfs appliance did not start");
            case EXITED -> m.append(" failed: virt-v2v-in-place exited with status ").append(attempt.result.exitCode());
        }
        if (!attempt.settings.isEmpty()) {
            m.append(" (LIBGUESTFS_BACKEND_SETTINGS=").append(attempt.settings).append(')');
        }
        for (ConversionLog.Message e : ConversionLog.messages(attempt.messages)) {
            if (e.type().equals("error")) {
                m.append("\nerror: ").append(e.text());
            }
        }
        m.append("\nlast lines of ").append(attempt.log).append(':');
        ConversionLog.tail(attempt.log, ERROR_LINES).forEach(line -> m.append('\n').append(line));
        return new IOException(m.toString());
    }

    private Outcome outcome(List<Path> disks, Attempt attempt, Duration took, boolean emulated) throws IOException {
        ConversionLog.Inspection inspection = ConversionLog.inspection(attempt.log);
        List<String> parts = new ArrayList<>();
        for (ConversionLog.Message message : ConversionLog.messages(attempt.messages)) {
            switch (message.type()) {
                case "message" -> {
                    if (message.text().startsWith("Converting ")) {
                        parts.add(message.text());
                    }
                }
                case "warning" -> parts.add("warning: " + message.text());
                case "info" -> parts.add(message.text());
                default -> {
                }
            }
        }
        String root = inspection.root().isEmpty() ? "unknown" : inspection.root();
        return new Outcome(diskOf(root, disks), inspection.operatingSystem(), String.join("; ", parts), took, root,
                emulated);
    }

    /**
     * The disk holding {@code root} as the appliance names it: the appliance adds the disks in
     * the XML's order as SCSI disks, so /dev/sdb1 is a partition of the second.
     */
    static Path diskOf(String root, List<Path> disks) {
        Matcher m = SCSI_NAME.matcher(root);
        if (!m.matches()) {
            return null;
        }
        int index = 0;
        for (char c : m.group(1).toCharArray()) {
            index = index * 26 + (c - 'a' + 1);
        }
        return index - 1 < disks.size() ? disks.get(index - 1) : null;
    }
}
