package org.blockferry.engine.job;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Pattern;
import org.blockferry.engine.CborSerializable;
import org.blockferry.engine.cloudstack.Clouds;
import org.blockferry.engine.endpoint.DiskLocation;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.plan.CopyMode;

/**
 * One replication job: a VM's disks, where each comes from and goes to, how much to move, and
 * how. The body of {@code POST /api/v1/jobs} and of {@code blockferry replicate --job-file}.
 *
 * <p>A whole-VM job (source kind {@code vmware}) leaves {@code disks} out and gives
 * {@code targetTemplate}: the node lists the VM's disks when the job is submitted and replaces
 * the template by them ({@link #withDisks}), so a job that runs always lists its disks.
 *
 * @param jobId          the caller's idempotency key, or {@code null} to have one generated
 * @param source         where the disks come from: the kind of source, and for {@code vmware} the vCenter and VM
 * @param targetTemplate a whole-VM job's target of every disk ({@link TargetTemplate}); null once expanded
 * @param target         where every disk goes when the node provisions it ({@link Target}, kind
 *                       {@code cloudstack}); null when each disk names its own target
 */
@JsonIgnoreProperties(ignoreUnknown = false)
public record JobSpec(@JsonProperty("job_id") String jobId, @JsonProperty("vm") String vm,
                      @JsonProperty("source") Source source, @JsonProperty("disks") List<Disk> disks,
                      @JsonProperty("mode") CopyMode mode, @JsonProperty("options") Options options,
                      @JsonProperty("target_template") String targetTemplate,
                      @JsonProperty("target") Target target)
        implements CborSerializable {

    /** A job that lists its disks. */
    public JobSpec(String jobId, String vm, Source source, List<Disk> disks, CopyMode mode, Options options) {
        this(jobId, vm, source, disks, mode, options, null, null);
    }

    /** A job that lists its disks or, with a template, a whole VM's. */
    public JobSpec(String jobId, String vm, Source source, List<Disk> disks, CopyMode mode, Options options,
                   String targetTemplate) {
        this(jobId, vm, source, disks, mode, options, targetTemplate, null);
    }

    /** The same job under another id. */
    public JobSpec withJobId(String id) {
        return new JobSpec(id, vm, source, disks, mode, options, targetTemplate, target);
    }

    /** A whole-VM job with the disks the node found on the VM, in place of its template. */
    public JobSpec withDisks(List<Disk> found) {
        return new JobSpec(jobId, vm, source, List.copyOf(found), mode, options, null, target);
    }

    /**
     * Whether the node lists the VM's disks when the job is submitted: a vmware source with a
     * {@code target_template}, or with a {@code cloudstack} target and no disks.
     */
    public boolean wholeVm() {
        return targetTemplate != null || (target != null && disks == null && source != null
                && "vmware".equals(source.kind()));
    }

    /** Whether the node provisions the disks' targets (a {@code cloudstack} target). */
    public boolean cloudTarget() {
        return target != null && Target.CLOUDSTACK.equals(target.kind());
    }

    /** Whether the job ends with a cutover into CloudStack: a final sync to a cloudstack target. */
    public boolean cutover() {
        return options != null && options.finalSync() && cloudTarget();
    }

    /**
     * Where every disk of the job goes when the node provisions it. Kind {@code cloudstack}: a
     * volume per disk in the cloud the node knows as {@code cloud}
     * ({@code blockferry.cloudstack.clouds.NAME}); the job says nothing else about the cloud.
     */
    @JsonIgnoreProperties(ignoreUnknown = false)
    public record Target(@JsonProperty("kind") String kind, @JsonProperty("cloud") String cloud)
            implements CborSerializable {
        public static final String CLOUDSTACK = "cloudstack";
        public static final List<String> KINDS = List.of(CLOUDSTACK);

        public static Target cloudstack(String cloud) {
            return new Target(CLOUDSTACK, cloud);
        }
    }

    /** The longest part of a volume's name that comes from the VM's name. */
    private static final int VOLUME_VM_PART = 180;

    /**
     * The name of the volume of disk {@code diskId} of VM {@code vmName}: {@code bf-VM-DISK},
     * every character outside {@code [A-Za-z0-9._-]} of the VM's name as {@code _}.
     */
    public static String volumeName(String vmName, String diskId) {
        String safe = TargetTemplate.UNSAFE.matcher(vmName).replaceAll("_");
        return "bf-" + (safe.length() > VOLUME_VM_PART ? safe.substring(0, VOLUME_VM_PART) : safe) + "-" + diskId;
    }

    /** The target the node fills in for disk {@code diskId} of a job with a {@code cloudstack} target. */
    public String cloudVolume(String diskId) {
        return DiskLocation.CLOUDSTACK_SCHEME + target.cloud() + "/" + volumeName(vm, diskId);
    }

    private static final Pattern ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
    private static final Pattern BITMAP = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._:-]{0,1022}");
    /** {@code nbd}: any NBD export or local image, full copies; {@code qemu}: qcow2 dirty bitmaps. */
    public static final List<String> SOURCE_KINDS = List.of("nbd", "qemu", "vmware");

    /**
     * Where the disks come from. {@code kind} selects the source type; the other fields are for a
     * {@code vmware} source (and must be absent for the other kinds). A job never says where a
     * vCenter is, who logs in or how its certificate is trusted: it names a vCenter configured on
     * the node, so that no secret of the node can be sent to a host the client chooses.
     *
     * @param vcenter      the name of a vCenter configured on the node ({@code blockferry.vmware.vcenters.NAME})
     * @param vm           the VM's inventory path, {@code DC0/vm/folder/name}
     * @param datastoreMap datastore-mapped mode: a VMDK {@code [datastore] dir/} prefix to the
     *                     local directory where its flat raw image can be read
     */
    @JsonIgnoreProperties(ignoreUnknown = false)
    public record Source(@JsonProperty("kind") String kind, @JsonProperty("vcenter") String vcenter,
                         @JsonProperty("vm") String vm,
                         @JsonProperty("datastore_map") Map<String, String> datastoreMap) implements CborSerializable {
        public static final Source NBD = new Source("nbd");
        /** A vCenter's name on the node and in jobs: what a HOCON key holds without quoting. */
        public static final Pattern VCENTER_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_-]{0,63}");
        /**
         * Fields of job specs before vCenters were configured on the node. A client refused with
         * them learns what to do instead; journals that hold them are read without them (the
         * persisted form ignores fields it does not know).
         */
        public static final List<String> REMOVED_FIELDS = List.of("url", "user", "password", "password_file",
                "password_env", "thumbprint", "insecure");
        /** Why a removed field is refused. */
        public static final String NAME_A_VCENTER = "jobs name a vCenter configured on the node (source.vcenter);"
                + " see blockferry.vmware.vcenters";

        public Source(String kind) {
            this(kind, null, null, null);
        }

        /** A VM of the vCenter the node knows as {@code vcenter}. */
        public static Source vmware(String vcenter, String vm, Map<String, String> datastoreMap) {
            return new Source("vmware", vcenter, vm, datastoreMap);
        }

        @Override
        public String toString() { // short in logs
            return "vmware".equals(kind) ? "Source[vmware vcenter=" + vcenter + " vm=" + vm + "]" : "Source[" + kind + "]";
        }
    }

    /**
     * One disk: its id within the job, its source and its target (NBD URIs or local paths), and
     * for a {@code qemu} source that is an NBD export, the dirty bitmap it offers.
     */
    @JsonIgnoreProperties(ignoreUnknown = false)
    public record Disk(@JsonProperty("id") String id, @JsonProperty("source") String source,
                       @JsonProperty("target") String target, @JsonProperty("bitmap") String bitmap,
                       @JsonProperty("disk_offering") String diskOffering)
            implements CborSerializable {

        public Disk(String id, String source, String target) {
            this(id, source, target, null, null);
        }

        public Disk(String id, String source, String target, String bitmap) {
            this(id, source, target, bitmap, null);
        }

        Disk withTarget(String t) {
            return new Disk(id, source, t, bitmap, diskOffering);
        }
    }

    /**
     * @param maxParallelDisks disks copied at once, 0 = all
     * @param verify compare each target with its source after the copy
     * @param targetIsZero the targets read as zeros: never send zeros
     * @param failFast stop the other disks when one fails
     * @param finalSync vmware only: shut the VM down (guest shutdown, then power off) before the snapshot
     * @param keepVolumes cloudstack target only: a failed or cancelled first sync keeps the volumes it created
     * @param convert cloudstack target, final sync: convert the guest in place (virt-v2v-in-place) before the cutover
     * @param createVm cloudstack target, final sync: create the CloudStack VM from the volumes ({@link CreateVm})
     */
    @JsonIgnoreProperties(ignoreUnknown = false)
    public record Options(@JsonProperty("max_parallel_disks") int maxParallelDisks,
                          @JsonProperty("verify") boolean verify,
                          @JsonProperty("target_is_zero") boolean targetIsZero,
                          @JsonProperty("fail_fast") boolean failFast,
                          @JsonProperty("final_sync") boolean finalSync,
                          @JsonProperty("keep_volumes") boolean keepVolumes,
                          @JsonProperty("convert") boolean convert,
                          @JsonProperty("create_vm") CreateVm createVm) implements CborSerializable {
        public static final Options DEFAULT = new Options(0, false, false, false, false, false, false, null);

        /** Without {@code final_sync} (the cutover of a vmware source). */
        public Options(int maxParallelDisks, boolean verify, boolean targetIsZero, boolean failFast) {
            this(maxParallelDisks, verify, targetIsZero, failFast, false, false, false, null);
        }

        /** Without the options of a cloudstack target. */
        public Options(int maxParallelDisks, boolean verify, boolean targetIsZero, boolean failFast,
                       boolean finalSync) {
            this(maxParallelDisks, verify, targetIsZero, failFast, finalSync, false, false, null);
        }
    }

    /**
     * The VM to create at cutover, portable across CloudStack 4.x: deployed stopped from a small
     * placeholder template, its ROOT volume replaced by the job's first disk (device 0) and the
     * other disks attached in order, started if asked. Ids are CloudStack UUIDs.
     *
     * @param serviceOffering     the service offering's id (CPU, memory)
     * @param placeholderTemplate a small template's id: only its ROOT volume is made, then deleted
     * @param networks            the networks' ids, the first the default
     */
    @JsonIgnoreProperties(ignoreUnknown = false)
    public record CreateVm(@JsonProperty("service_offering") String serviceOffering,
                           @JsonProperty("placeholder_template") String placeholderTemplate,
                           @JsonProperty("networks") List<String> networks,
                           @JsonProperty("start") boolean start) implements CborSerializable {
    }

    /**
     * The spec with defaults filled in and every field checked; the first problem is thrown as
     * an {@link InvalidInputException} naming the field ({@code disks[1].target}). A whole-VM
     * spec is refused here: it is expanded ({@link #validatedWholeVm}, {@link #withDisks}) first.
     */
    public JobSpec validated() {
        JobSpec checked = checkedExceptDisks();
        if (wholeVm()) {
            throw new InvalidInputException(targetTemplate != null ? TargetTemplate.FIELD : "disks", "lists no disks"
                    + " yet: the node replaces it by the VM's disks when the job is submitted");
        }
        if (disks == null || disks.isEmpty()) {
            throw new InvalidInputException("disks", "at least one disk is required" + (checked.source().kind()
                    .equals("vmware") ? " (or leave disks out and give target_template to sync every disk of the VM)"
                    : ""));
        }
        checkDisks(checked.source());
        if (!cloudTarget()) {
            return checked.withDisks(disks);
        }
        return checked.withDisks(disks.stream().map(d -> d.withTarget(cloudVolume(d.id()))).toList());
    }

    /**
     * A whole-VM spec (source kind {@code vmware}, {@code target_template}, no disks) with every
     * field but the disks checked and defaults filled in: what the node checks before it asks
     * vCenter for the VM's disks. The template itself is checked by {@link TargetTemplate#of}.
     */
    public JobSpec validatedWholeVm() {
        if (!wholeVm()) {
            throw new IllegalStateException("not a whole-VM job: it has no target_template or cloudstack target");
        }
        return checkedExceptDisks();
    }

    /** Every field but the disks checked, defaults filled in; a template only where it means something. */
    private JobSpec checkedExceptDisks() {
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
        if (src.kind().equals("vmware")) {
            vcenter(src);
        } else {
            onlyForVmware(src);
        }
        checkTemplateUse(src);
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
        checkTarget(src, opts);
        if (opts.finalSync() && !src.kind().equals("vmware") && !cloudTarget()) {
            throw new InvalidInputException("options.final_sync", "is for source kind vmware (it shuts the source VM"
                    + " down before the last sync) or a cloudstack target (the cutover after the last sync); source kind"
                    + " is '" + src.kind() + "'");
        }
        // the disks are checked (and copied) by validated()
        return new JobSpec(id, vm, src, disks, m, opts, targetTemplate, target);
    }

    /** A job-level target: a kind this node provisions, a cloud named as the node names them. */
    private void checkTarget(Source src, Options opts) {
        checkCutover(opts);
        if (target == null) {
            if (opts.keepVolumes()) {
                throw new InvalidInputException("options.keep_volumes", "is for a cloudstack target only (it keeps"
                        + " the volumes a failed first sync created)");
            }
            return;
        }
        if (target.kind() == null || !Target.KINDS.contains(target.kind())) {
            throw new InvalidInputException("target.kind", "'" + target.kind() + "' is not a target kind (supported:"
                    + " " + String.join(", ", Target.KINDS) + "; or leave target out and give each disk's target)");
        }
        if (target.cloud() == null || target.cloud().isBlank()) {
            throw new InvalidInputException("target.cloud", "is required: the name of a cloud configured on the node"
                    + " (blockferry.cloudstack.clouds)");
        }
        if (!Clouds.NAME.matcher(target.cloud()).matches()) {
            throw new InvalidInputException("target.cloud", "'" + target.cloud() + "' is not a cloud name (1-64"
                    + " letters, digits, '_' or '-')");
        }
        if (targetTemplate != null) {
            throw new InvalidInputException(TargetTemplate.FIELD, "is for local or NBD targets; with a cloudstack"
                    + " target the node names the volumes (leave target_template out)");
        }
    }

    /** A target template is for a vmware source's every disk: not another kind, not beside a list of disks. */
    private void checkTemplateUse(Source src) {
        if (targetTemplate == null) {
            return;
        }
        if (!src.kind().equals("vmware")) {
            throw new InvalidInputException(TargetTemplate.FIELD, "is for source kind vmware only (the node lists"
                    + " the VM's disks from vCenter); source kind is '" + src.kind() + "': list the disks instead");
        }
        if (disks != null) {
            throw new InvalidInputException(TargetTemplate.FIELD, "give either disks or target_template, not both:"
                    + " target_template names the target of every disk of the VM, disks lists the disks one by one");
        }
    }

    /** Each disk: a unique id, a source of the job's kind, a target, a bitmap only where it means something. */
    private void checkDisks(Source src) {
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
            if (src.kind().equals("vmware")) {
                vmdk(field + ".source", d.source());
            } else {
                DiskLocation.parseExternal(field + ".source", d.source());
                absolute(field + ".source", d.source());
            }
            if (cloudTarget()) {
                if (d.target() != null && !d.target().equals(cloudVolume(d.id()))) {
                    throw new InvalidInputException(field + ".target", "must be left out: with a cloudstack target"
                            + " the node creates each disk's volume (" + volumeName(vm, d.id()) + ")");
                }
                checkOffering(field + ".disk_offering", d.diskOffering());
            } else {
                checkTarget(field + ".target", d.target());
                if (d.diskOffering() != null) {
                    throw new InvalidInputException(field + ".disk_offering", "is for a cloudstack target only");
                }
            }
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
    }

    private static final Pattern UUID_TEXT = Pattern.compile(
            "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");
    /** Networks a created VM may join: more is a mistake, not a migration. */
    private static final int MAX_NETWORKS = 16;

    /** Conversion and VM creation belong to a cutover: a final sync to a cloudstack target. */
    private void checkCutover(Options opts) {
        boolean cutover = cutover();
        if (opts.convert() && !cutover) {
            throw new InvalidInputException("options.convert", "is for the cutover: a final_sync to a cloudstack"
                    + " target");
        }
        CreateVm vm = opts.createVm();
        if (vm == null) {
            return;
        }
        if (!cutover) {
            throw new InvalidInputException("options.create_vm", "is for the cutover: a final_sync to a cloudstack"
                    + " target");
        }
        uuid("options.create_vm.service_offering", vm.serviceOffering());
        uuid("options.create_vm.placeholder_template", vm.placeholderTemplate());
        if (vm.networks() != null) {
            if (vm.networks().size() > MAX_NETWORKS) {
                throw new InvalidInputException("options.create_vm.networks", "has " + vm.networks().size()
                        + " networks; at most " + MAX_NETWORKS);
            }
            for (int i = 0; i < vm.networks().size(); i++) {
                uuid("options.create_vm.networks[" + i + "]", vm.networks().get(i));
            }
        }
    }

    private static void uuid(String field, String value) {
        if (value == null || !UUID_TEXT.matcher(value).matches()) {
            throw new InvalidInputException(field, (value == null ? "is required" : "'" + value + "' is not")
                    + (value == null ? ": " : " ") + "a CloudStack id (a UUID)");
        }
    }

    /** A disk offering's UUID or name, as CloudStack shows it. */
    private static final Pattern OFFERING = Pattern.compile("[A-Za-z0-9][A-Za-z0-9 ._-]{0,254}");

    private static void checkOffering(String field, String offering) {
        if (offering != null && !OFFERING.matcher(offering).matches()) {
            throw new InvalidInputException(field, "'" + offering + "' is not a disk offering's id or name (1-255"
                    + " letters, digits, spaces, '.', '_' or '-')");
        }
    }

    private static final Pattern VMDK = Pattern.compile("\\[[^\\]]+\\] \\S.*\\.vmdk");

    /** A vmware disk's source: its VMDK file name as vCenter reports it, or its device key. */
    private static void vmdk(String field, String source) {
        if (source == null || !(VMDK.matcher(source).matches() || source.matches("[0-9]{1,10}"))) {
            throw new InvalidInputException(field, "'" + source + "' must be the disk's VMDK file name as vCenter"
                    + " reports it ('[datastore1] vm/vm.vmdk') or its device key (2000)");
        }
    }

    private static void vcenter(Source s) {
        if (s.vcenter() == null || s.vcenter().isBlank()) {
            throw new InvalidInputException("source.vcenter", "is required for source kind vmware: the name of a"
                    + " vCenter configured on the node (blockferry.vmware.vcenters)");
        }
        if (!Source.VCENTER_NAME.matcher(s.vcenter()).matches()) {
            throw new InvalidInputException("source.vcenter", "'" + s.vcenter() + "' is not a vCenter name (1-64"
                    + " letters, digits, '_' or '-')");
        }
        if (s.vm() == null || s.vm().isBlank() || !s.vm().contains("/")) {
            throw new InvalidInputException("source.vm", "'" + s.vm() + "' must be the VM's inventory path"
                    + " (datacenter/vm/folder/name)");
        }
        if (s.datastoreMap() == null) {
            return; // disks are read through nbdkit vddk
        }
        if (s.datastoreMap().isEmpty()) {
            throw new InvalidInputException("source.datastore_map", "is empty: map each '[datastore] dir/' to the"
                    + " local directory holding its flat raw images, or leave it out to read through VDDK");
        }
        for (Map.Entry<String, String> e : s.datastoreMap().entrySet()) {
            if (!e.getKey().matches("\\[[^\\]]+\\].*")) {
                throw new InvalidInputException("source.datastore_map", "key '" + e.getKey() + "' must start with"
                        + " '[datastore]'");
            }
            if (e.getValue() == null || !java.nio.file.Path.of(e.getValue()).isAbsolute()) {
                throw new InvalidInputException("source.datastore_map[" + e.getKey() + "]", "'" + e.getValue()
                        + "' must be an absolute local path");
            }
        }
    }

    private static void onlyForVmware(Source s) {
        String field = s.vcenter() != null ? "vcenter" : s.vm() != null ? "vm"
                : s.datastoreMap() != null ? "datastore_map" : null;
        if (field != null) {
            throw new InvalidInputException("source." + field, "is for source kind vmware only");
        }
    }

    /**
     * A disk's target as every job checks it before the node's storage policy does: an NBD URI
     * or an absolute local path ({@link DiskLocation#parse}); refused naming {@code field}.
     */
    public static DiskLocation checkTarget(String field, String target) {
        DiskLocation location = DiskLocation.parseExternal(field, target);
        absolute(field, target);
        return location;
    }

    /** A job may run in another process or on another node: a relative path would mean nothing there. */
    private static void absolute(String field, String location) {
        if (!location.contains("://") && !java.nio.file.Path.of(location).isAbsolute()) {
            throw new InvalidInputException(field, "'" + location + "' is a relative path; a job needs an absolute"
                    + " path (or an NBD URI)");
        }
    }
}
