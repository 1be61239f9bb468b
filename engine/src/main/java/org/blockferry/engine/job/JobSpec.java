package org.blockferry.engine.job;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Pattern;
import org.blockferry.engine.CborSerializable;
import org.blockferry.engine.endpoint.DiskLocation;
import org.blockferry.engine.endpoint.InvalidInputException;

/**
 * One replication job: a VM's disks, where each comes from and goes to, how much to move, and
 * how. The body of {@code POST /api/v1/jobs} and of {@code blockferry replicate --job-file}.
 *
 * @param jobId  the caller's idempotency key, or {@code null} to have one generated
 * @param source the kind of source ({@code nbd} now; {@code qemu}, {@code vmware} later)
 */
@JsonIgnoreProperties(ignoreUnknown = false)
public record JobSpec(@JsonProperty("job_id") String jobId, @JsonProperty("vm") String vm,
                      @JsonProperty("source") Source source, @JsonProperty("disks") List<Disk> disks,
                      @JsonProperty("mode") CopyMode mode, @JsonProperty("options") Options options)
        implements CborSerializable {

    private static final Pattern ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
    private static final Pattern BITMAP = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._:-]{0,1022}");
    /** {@code nbd}: any NBD export or local image, full copies; {@code qemu}: qcow2 dirty bitmaps. */
    public static final List<String> SOURCE_KINDS = List.of("nbd", "qemu");

    /** Where the disks come from. {@code kind} selects the source type; the seam for qemu and vmware. */
    @JsonIgnoreProperties(ignoreUnknown = false)
    public record Source(@JsonProperty("kind") String kind) implements CborSerializable {
        public static final Source NBD = new Source("nbd");
    }

    /**
     * One disk: its id within the job, its source and its target (NBD URIs or local paths), and
     * for a {@code qemu} source that is an NBD export, the dirty bitmap it offers.
     */
    @JsonIgnoreProperties(ignoreUnknown = false)
    public record Disk(@JsonProperty("id") String id, @JsonProperty("source") String source,
                       @JsonProperty("target") String target, @JsonProperty("bitmap") String bitmap)
            implements CborSerializable {

        public Disk(String id, String source, String target) {
            this(id, source, target, null);
        }
    }

    /**
     * @param maxParallelDisks disks copied at once, 0 = all
     * @param verify compare each target with its source after the copy
     * @param targetIsZero the targets read as zeros: never send zeros
     * @param failFast stop the other disks when one fails
     */
    @JsonIgnoreProperties(ignoreUnknown = false)
    public record Options(@JsonProperty("max_parallel_disks") int maxParallelDisks,
                          @JsonProperty("verify") boolean verify,
                          @JsonProperty("target_is_zero") boolean targetIsZero,
                          @JsonProperty("fail_fast") boolean failFast) implements CborSerializable {
        public static final Options DEFAULT = new Options(0, false, false, false);
    }

    /**
     * The spec with defaults filled in and every field checked; the first problem is thrown as
     * an {@link InvalidInputException} naming the field ({@code disks[1].target}).
     */
    public JobSpec validated() {
        String id = jobId == null ? UUID.randomUUID().toString() : jobId;
        if (!ID.matcher(id).matches()) {
            throw new InvalidInputException("job_id", "'" + jobId + "' must be 1-64 letters, digits, '.', '_' or '-'"
                    + " starting with a letter or digit");
        }
        if (vm == null || vm.isBlank()) {
            throw new InvalidInputException("vm", "is required (the VM's name)");
        }
        if (vm.length() > 255) {
            throw new InvalidInputException("vm", "is longer than 255 characters");
        }
        Source src = source == null ? Source.NBD : source;
        if (src.kind() == null || !SOURCE_KINDS.contains(src.kind())) {
            throw new InvalidInputException("source.kind", "'" + src.kind() + "' is not a supported source kind"
                    + " (supported: " + String.join(", ", SOURCE_KINDS) + ")");
        }
        if (disks == null || disks.isEmpty()) {
            throw new InvalidInputException("disks", "at least one disk is required");
        }
        Set<String> ids = new HashSet<>();
        for (int i = 0; i < disks.size(); i++) {
            Disk d = disks.get(i);
            String field = "disks[" + i + "]";
            if (d == null) {
                throw new InvalidInputException(field, "is null");
            }
            if (d.id() == null || !ID.matcher(d.id()).matches()) {
                throw new InvalidInputException(field + ".id", "'" + d.id()
                        + "' must be 1-64 letters, digits, '.', '_' or '-'");
            }
            if (!ids.add(d.id())) {
                throw new InvalidInputException(field + ".id", "'" + d.id() + "' is used by another disk of the job");
            }
            DiskLocation.parse(field + ".source", d.source());
            DiskLocation.parse(field + ".target", d.target());
            absolute(field + ".source", d.source());
            absolute(field + ".target", d.target());
            if (d.bitmap() != null) {
                if (!src.kind().equals("qemu") || !d.source().contains("://")) {
                    throw new InvalidInputException(field + ".bitmap", "names the dirty bitmap of an NBD export, for"
                            + " source kind qemu only (for a local qcow2 BlockFerry manages its own bitmaps)");
                }
                if (!BITMAP.matcher(d.bitmap()).matches()) {
                    throw new InvalidInputException(field + ".bitmap", "'" + d.bitmap() + "' is not a bitmap name");
                }
            }
        }
        CopyMode m = mode == null ? CopyMode.AUTO : mode;
        if (m == CopyMode.INCREMENTAL && src.kind().equals("nbd")) {
            throw new InvalidInputException("mode", "incremental needs change tracking, which the nbd source kind does"
                    + " not have (use full or auto)");
        }
        Options opts = options == null ? Options.DEFAULT : options;
        if (opts.maxParallelDisks() < 0) {
            throw new InvalidInputException("options.max_parallel_disks", "must be 0 (all) or more, got "
                    + opts.maxParallelDisks());
        }
        return new JobSpec(id, vm, src, List.copyOf(disks), m, opts);
    }

    /** A job may run in another process or on another node: a relative path would mean nothing there. */
    private static void absolute(String field, String location) {
        if (!location.contains("://") && !java.nio.file.Path.of(location).isAbsolute()) {
            throw new InvalidInputException(field, "'" + location + "' is a relative path; a job needs an absolute"
                    + " path (or an NBD URI)");
        }
    }
}
