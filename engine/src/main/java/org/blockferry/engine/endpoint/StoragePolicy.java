package org.blockferry.engine.endpoint;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueType;
import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Which local files, devices and NBD URI options the jobs of a node may use. A node started by
 * {@code blockferry serve} runs every job (submitted over the API, or resumed from the journal)
 * under its configured policy ({@code blockferry.storage}, {@code blockferry.nbd}); the local
 * operator's commands ({@code replicate}, {@code copy}, {@code verify}, {@code demo}) run
 * {@link #UNRESTRICTED}.
 *
 * <p>The contract. A local path is allowed when its <em>real</em> path (symlinks resolved; for a
 * file that does not exist yet, the real path of its directory plus its name) lies under an allowed
 * root and is a regular file — or does not exist yet, for a target — or when the path or its real
 * path matches an allowed device glob and is a block device; and, either way, when it is none of
 * the node's {@linkplain Protected protected paths}. An NBD URI may carry only the query options
 * {@link NbdUriRules} lists. Every refusal is an {@link InvalidInputException} naming the field
 * and saying what is allowed; it never tells whether a path outside the roots exists, and never
 * shows a file's contents.
 *
 * <p>What the caller must do: check at submission ({@link #checkLocation}) and again where the
 * file is opened ({@link #checkPath}, on the path it is about to hand on), hand programs
 * {@link Checked#path()} (the real path), and once a program has opened it, verify what it holds
 * ({@link #verifyOpened}): a check and a child's {@code open} are two steps, and the file may be
 * swapped in between.
 */
public final class StoragePolicy {

    /** Everything allowed, nothing verified: the local operator's commands. */
    public static final StoragePolicy UNRESTRICTED = new StoragePolicy(new Builder(), false);

    /** What a job does with a location. */
    public enum Access { READ, WRITE }

    /**
     * A path of the node that no job may read or write, even under an allowed root.
     *
     * @param what what it is, for messages ("the node's database"); never its contents
     */
    public record Protected(Path path, Scope scope, String what) {
        /** Which paths {@code path} stands for. */
        public enum Scope {
            /** That file (also under another name: a hard link). */
            FILE,
            /** The directory and everything under it. */
            TREE,
            /** The files directly in the directory (a data directory's database, token, password). */
            FILES_IN,
            /** The files in the same directory whose name starts with this name and a dot (H2's {@code NAME.mv.db}, ...). */
            NAME_PREFIX,
            /**
             * The directory, and every device a link in it points to now (a CloudStack cloud's
             * device dir: the volumes attached to the node's appliance, whatever path names them).
             */
            LINKS_IN
        }

        public Protected {
            Objects.requireNonNull(path, "path");
            Objects.requireNonNull(scope, "scope");
            Objects.requireNonNull(what, "what");
        }
    }

    /**
     * What the policy allowed.
     *
     * @param requested the path as the job named it (absolute, normalized)
     * @param path      what to hand to programs: the real path (the requested one when unrestricted)
     * @param root      the allowed root it lies under; null for a device or when unrestricted
     * @param fileKey   the checked file's identity (device and inode); null when absent or unrestricted
     * @param openable  the identities of every file a server exporting it may hold open: the file,
     *                  and for a qcow2 image its backing chain
     */
    public record Checked(Path requested, Path path, Kind kind, Path root, Object fileKey, Set<Object> openable) {
        /** What the path is. */
        public enum Kind {
            /** A regular file under an allowed root. */
            FILE,
            /** A block device matched by an allowed device glob. */
            DEVICE,
            /** Nothing yet: a target to create under an allowed root. */
            ABSENT,
            /** Not checked (unrestricted): exists, of any type. */
            UNCHECKED
        }

        public Checked {
            openable = Set.copyOf(openable);
        }

        /** Whether a program's open of it must be verified ({@link StoragePolicy#verifyOpened}). */
        public boolean verifiable() {
            return fileKey != null;
        }

        /** The same, with more files a server may hold open for it (a qcow2 image's backing chain). */
        public Checked withOpenable(Set<Object> keys) {
            Set<Object> all = new java.util.LinkedHashSet<>(openable);
            all.addAll(keys);
            return new Checked(requested, path, kind, root, fileKey, all);
        }
    }

    private static final int S_IFMT = 0170000;
    private static final int S_IFREG = 0100000;
    private static final int S_IFBLK = 0060000;

    private final boolean restricted;
    private final List<Path> roots;
    private final List<String> deviceGlobs;
    private final List<PathMatcher> devices;
    private final List<Protected> protectedPaths;
    private final Path dataDir;
    private final Path keyDir;
    private final Path exportRoot;
    private final boolean allowUnverifiedTls;

    private StoragePolicy(Builder b, boolean restricted) {
        this.restricted = restricted;
        this.roots = List.copyOf(b.roots);
        this.deviceGlobs = List.copyOf(b.deviceGlobs);
        this.devices = deviceGlobs.stream().map(g -> FileSystems.getDefault().getPathMatcher("glob:" + g)).toList();
        List<Protected> all = new ArrayList<>(b.protectedPaths);
        if (b.dataDir != null) {
            all.add(new Protected(b.dataDir, Protected.Scope.FILES_IN, "a file of the node's data directory"));
        }
        if (b.keyDir != null) {
            all.add(new Protected(b.keyDir, Protected.Scope.TREE, "in the node's NBD key directory"));
        }
        this.protectedPaths = List.copyOf(all);
        this.dataDir = b.dataDir;
        this.keyDir = b.keyDir;
        this.exportRoot = b.exportRoot;
        this.allowUnverifiedTls = b.allowUnverifiedTls;
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * A builder filled from {@code blockferry.storage}, {@code blockferry.nbd} and
     * {@code blockferry.data-dir}; the node adds the paths it must protect and builds it.
     */
    public static Builder configured(Config config) {
        Builder b = builder();
        for (String root : strings(config, "blockferry.storage.allowed-roots")) {
            b.allowRoot(root);
        }
        for (String glob : strings(config, "blockferry.storage.allowed-devices")) {
            b.allowDevices(glob);
        }
        return b.dataDir(Path.of(config.getString("blockferry.data-dir")))
                .keyDir(Path.of(config.getString("blockferry.nbd.key-dir")))
                .allowUnverifiedTls(config.getBoolean("blockferry.nbd.allow-unverified-tls"))
                .exportRoot(Path.of(System.getProperty("java.io.tmpdir")));
    }

    /** A list setting, or a comma-separated string (what an environment variable gives). */
    private static List<String> strings(Config config, String key) {
        if (config.getValue(key).valueType() == ConfigValueType.LIST) {
            return config.getStringList(key).stream().map(String::strip).filter(s -> !s.isEmpty()).toList();
        }
        return Arrays.stream(config.getString(key).split(",")).map(String::strip).filter(s -> !s.isEmpty()).toList();
    }

    /** Whether anything is checked at all. */
    public boolean restricted() {
        return restricted;
    }

    /** The allowed roots, as configured. */
    public List<Path> roots() {
        return roots;
    }

    /** The allowed device globs, as configured. */
    public List<String> deviceGlobs() {
        return deviceGlobs;
    }

    // ---- a job's locations ----

    /**
     * Checks a disk location of a job as it is submitted: a local path by the rules of
     * {@link #checkPath} — except that a source may not exist yet (whether it does is checked when
     * the disk opens) — or an NBD URI's query options ({@link NbdUriRules}). Nothing is opened; a
     * refusal names {@code field}.
     */
    public void checkLocation(String field, DiskLocation location, Access access) {
        if (!restricted) {
            return;
        }
        if (location instanceof DiskLocation.LocalImage local) {
            Path requested = local.path().toAbsolutePath().normalize();
            check(field, "'" + requested + "'", requested, access, false);
        } else if (location instanceof DiskLocation.NbdUri uri) {
            checkUri(field, uri.uri());
        } // a CloudStack volume is the node's to create: its cloud is checked against blockferry.cloudstack
    }

    /** Checks the query options of an NBD URI (see {@link NbdUriRules}); nothing when unrestricted. */
    public void checkUri(String field, String uri) {
        if (restricted) {
            NbdUriRules.check(this, field, uri);
        }
    }

    /**
     * Checks a local source ({@code READ}: it must exist) or target ({@code WRITE}: it may not
     * exist yet) and returns what was allowed. Unrestricted, only whether it exists is looked at.
     */
    public Checked checkPath(String field, Path path, Access access) {
        Path requested = path.toAbsolutePath().normalize();
        return checkPath(field, "'" + requested + "'", requested, access);
    }

    /** As {@link #checkPath(String, Path, Access)}, with {@code subject} naming the path in messages. */
    Checked checkPath(String field, String subject, Path requested, Access access) {
        return check(field, subject, requested, access, access == Access.READ);
    }

    private Checked check(String field, String subject, Path requested, Access access, boolean mustExist) {
        if (!restricted) {
            Checked.Kind kind = Files.exists(requested) ? Checked.Kind.UNCHECKED : Checked.Kind.ABSENT;
            return new Checked(requested, requested, kind, null, null, Set.of());
        }
        RealPath resolved = resolve(field, subject, requested);
        Path real = resolved.real();
        if (matchesDevice(requested) || (resolved.exists() && matchesDevice(real))) {
            return checkDevice(field, subject, requested, resolved);
        }
        Path root = rootOf(real);
        if (root == null) {
            throw new InvalidInputException(field, subject + (rootOf(requested) != null
                    ? " leads through a symbolic link to a path outside the allowed storage roots "
                    : " is outside the allowed storage roots ") + rootsHint(requested));
        }
        checkNotProtected(field, subject, real, true);
        if (resolved.dangling()) {
            throw new InvalidInputException(field, subject + " is a symbolic link that leads nowhere");
        }
        if (!resolved.exists()) {
            if (mustExist) {
                throw new InvalidInputException(field, subject + " does not exist");
            }
            return new Checked(requested, real, Checked.Kind.ABSENT, root, null, Set.of());
        }
        int type = mode(field, subject, real) & S_IFMT;
        if (type == S_IFBLK) {
            throw new InvalidInputException(field, subject + " is a block device that no glob of"
                    + " blockferry.storage.allowed-devices matches (" + devicesHint() + ")");
        }
        if (type != S_IFREG) {
            throw new InvalidInputException(field, subject + " is " + typeName(type) + ", not a disk image (allowed:"
                    + " regular files under the allowed storage roots, block devices matched by"
                    + " blockferry.storage.allowed-devices)");
        }
        Object key = fileKey(field, subject, real);
        return new Checked(requested, real, Checked.Kind.FILE, root, key, Set.of(key));
    }

    /**
     * Checks a directory a job maps local images from ({@code source.datastore_map}): under an
     * allowed root, not protected, a directory if it exists.
     */
    public void checkDirectory(String field, Path path) {
        if (!restricted) {
            return;
        }
        Path requested = path.toAbsolutePath().normalize();
        String subject = "'" + requested + "'";
        RealPath resolved = resolve(field, subject, requested);
        if (rootOf(resolved.real()) == null) {
            throw new InvalidInputException(field, subject + " is outside the allowed storage roots "
                    + rootsHint(requested));
        }
        checkNotProtected(field, subject, resolved.real(), false);
        if (resolved.exists() && !Files.isDirectory(resolved.real())) {
            throw new InvalidInputException(field, subject + " is not a directory");
        }
    }

    /**
     * Verifies what process {@code pid} (a server exporting {@code checked}) holds open right now:
     * every regular file and block device among its descriptors, except those whose identity is in
     * {@code ignored} (its own log), must be one of {@code checked.openable()}, a file must still
     * lie under an allowed root, and the checked file itself must be among them. Throws naming
     * {@code field} otherwise; does nothing for an unverifiable check (unrestricted).
     */
    public void verifyOpened(String field, long pid, Checked checked, Set<Object> ignored) {
        if (restricted && checked.verifiable()) {
            OpenedFiles.verify(this, field, pid, checked, ignored);
        }
    }

    // ---- what the rules know (for NbdUriRules, OpenedFiles, SparseImage) ----

    Path dataDir() {
        return dataDir;
    }

    Path keyDir() {
        return keyDir;
    }

    Path exportRoot() {
        return exportRoot;
    }

    boolean allowUnverifiedTls() {
        return allowUnverifiedTls;
    }

    /** Whether a file a server holds open (its kernel path, without symlinks) is one a job may use. */
    boolean allowsOpenedFile(Path kernelPath) {
        return rootOf(kernelPath) != null && protectedBy(kernelPath, keyOrNull(kernelPath), true) == null;
    }

    /** The real path of the allowed root {@code real} lies under (the deepest one), or null. */
    Path rootOf(Path real) {
        Path best = null;
        for (Path root : roots) {
            Path r = RealPath.bestEffort(root);
            if (real.startsWith(r) && (best == null || r.getNameCount() > best.getNameCount())) {
                best = r;
            }
        }
        return best;
    }

    /**
     * A block device the node provisioned itself for a job (a CloudStack volume attached to its
     * own appliance and found by its serial): outside the allowlist by design, since no job can
     * name it. {@code device} is its real path; it must be a block device and not protected.
     */
    public Checked provisionedDevice(String field, Path requested, Path device) {
        String subject = "'" + requested + "' (" + device + ")";
        if ((mode(field, subject, device) & S_IFMT) != S_IFBLK) {
            throw new InvalidInputException(field, subject + " is not a block device");
        }
        Protected p = protectedBy(device, keyOrNull(device), true);
        if (p != null && p.scope() != Protected.Scope.LINKS_IN) { // its own device dir is where it was found
            throw new InvalidInputException(field, subject + " is " + p.what() + ": no job may read or write it");
        }
        Object key = fileKey(field, subject, device);
        return new Checked(requested, device, Checked.Kind.DEVICE, null, key, Set.of(key));
    }

    // ---- the pieces ----

    private Checked checkDevice(String field, String subject, Path requested, RealPath resolved) {
        if (!resolved.exists()) {
            throw new InvalidInputException(field, subject + " does not exist (devices are never created)");
        }
        Path real = resolved.real();
        if ((mode(field, subject, real) & S_IFMT) != S_IFBLK) {
            throw new InvalidInputException(field, subject + " matches blockferry.storage.allowed-devices but is"
                    + " not a block device");
        }
        checkNotProtected(field, subject, real, true);
        Object key = fileKey(field, subject, real);
        return new Checked(requested, real, Checked.Kind.DEVICE, null, key, Set.of(key));
    }

    private void checkNotProtected(String field, String subject, Path real, boolean file) {
        Protected p = protectedBy(real, keyOrNull(real), file);
        if (p != null) {
            throw new InvalidInputException(field, subject + " is " + p.what() + ": no job may read or write it");
        }
    }

    private static final Path DEV = Path.of("/dev");

    /** Whether an entry of {@code dir} resolves to {@code real} now. */
    private static boolean linkedFrom(Path dir, Path real) {
        try (java.util.stream.Stream<Path> entries = java.nio.file.Files.list(dir)) {
            return entries.anyMatch(e -> RealPath.bestEffort(e).equals(real));
        } catch (IOException | RuntimeException e) {
            return false; // no such directory: nothing is attached there
        }
    }

    private Protected protectedBy(Path real, Object key, boolean file) {
        for (Protected p : protectedPaths) {
            Path at = RealPath.bestEffort(p.path());
            boolean covered = switch (p.scope()) {
                case FILE -> real.equals(at) || (key != null && key.equals(keyOrNull(at)));
                case TREE -> real.startsWith(at);
                case FILES_IN -> file && at.equals(real.getParent());
                case NAME_PREFIX -> file && at.getParent() != null && at.getParent().equals(real.getParent())
                        && real.getFileName().toString().startsWith(at.getFileName() + ".");
                // a device's links are listed only for a device: a file under a root is never one
                case LINKS_IN -> real.startsWith(at) || (real.startsWith(DEV) && linkedFrom(at, real));
            };
            if (covered) {
                return p;
            }
        }
        return null;
    }

    private boolean matchesDevice(Path path) {
        return devices.stream().anyMatch(m -> m.matches(path));
    }

    private static RealPath resolve(String field, String subject, Path requested) {
        try {
            return RealPath.of(requested);
        } catch (IOException e) {
            throw new InvalidInputException(field, subject + " cannot be resolved (" + e.getClass().getSimpleName()
                    + "): it changed while being checked, or is not accessible");
        }
    }

    private static int mode(String field, String subject, Path real) {
        try {
            return (Integer) Files.getAttribute(real, "unix:mode");
        } catch (IOException e) {
            throw new InvalidInputException(field, subject + " changed while being checked (" + e.getClass()
                    .getSimpleName() + ")");
        }
    }

    private static Object fileKey(String field, String subject, Path real) {
        Object key = keyOrNull(real);
        if (key == null) {
            throw new InvalidInputException(field, subject + " changed while being checked");
        }
        return key;
    }

    static Object keyOrNull(Path path) {
        try {
            return Files.readAttributes(path, BasicFileAttributes.class).fileKey();
        } catch (IOException e) {
            return null; // gone, or not ours to see: nothing to compare with
        }
    }

    static boolean isBlockDevice(Path path) {
        try {
            return (((Integer) Files.getAttribute(path, "unix:mode")) & S_IFMT) == S_IFBLK;
        } catch (IOException e) {
            return false;
        }
    }

    private static String typeName(int type) {
        return switch (type) {
            case 0040000 -> "a directory";
            case 0020000 -> "a character device";
            case 0010000 -> "a FIFO";
            case 0140000 -> "a socket";
            default -> "not a regular file";
        };
    }

    private String rootsHint(Path requested) {
        String hint = "(" + (roots.isEmpty() ? "none configured" : roots.stream().map(Path::toString)
                .collect(Collectors.joining(", "))) + "); see blockferry.storage.allowed-roots";
        return requested.startsWith("/dev") ? hint + " (block devices: blockferry.storage.allowed-devices, "
                + devicesHint() + ")" : hint;
    }

    private String devicesHint() {
        return deviceGlobs.isEmpty() ? "none allowed" : String.join(", ", deviceGlobs);
    }

    @Override
    public String toString() {
        return restricted ? "StoragePolicy[roots=" + roots + " devices=" + deviceGlobs + " protected="
                + protectedPaths.size() + "]" : "StoragePolicy[unrestricted]";
    }

    /** Builds a restricted policy; every setting is checked with a message naming its key. */
    public static final class Builder {
        private final List<Path> roots = new ArrayList<>();
        private final List<String> deviceGlobs = new ArrayList<>();
        private final List<Protected> protectedPaths = new ArrayList<>();
        private Path dataDir;
        private Path keyDir;
        private Path exportRoot;
        private boolean allowUnverifiedTls;

        private Builder() {
        }

        /** A directory local sources and targets may lie under (an absolute path). */
        public Builder allowRoot(String root) {
            if (root.indexOf('\0') >= 0 || !Path.of(root).isAbsolute()) {
                throw new InvalidInputException("blockferry.storage.allowed-roots", "'" + root
                        + "' must be an absolute directory path");
            }
            roots.add(Path.of(root).normalize());
            return this;
        }

        /** A glob of block devices jobs may read and write ({@code /dev/disk/by-id/virtio-*}). */
        public Builder allowDevices(String glob) {
            if (!glob.startsWith("/dev/") || glob.indexOf('\0') >= 0) {
                throw new InvalidInputException("blockferry.storage.allowed-devices", "'" + glob
                        + "' must be a glob of device paths under /dev/ (e.g. /dev/disk/by-id/virtio-*)");
            }
            FileSystems.getDefault().getPathMatcher("glob:" + glob); // a malformed glob fails here, at start
            deviceGlobs.add(glob);
            return this;
        }

        /** A path of the node no job may read or write. */
        public Builder protect(Path path, Protected.Scope scope, String what) {
            protectedPaths.add(new Protected(path.toAbsolutePath().normalize(), scope, what));
            return this;
        }

        /** The node's data directory: its files are protected, and no NBD socket of a job may lie in it. */
        public Builder dataDir(Path dir) {
            this.dataDir = dir.toAbsolutePath().normalize();
            return this;
        }

        /** Where TLS files named by NBD URIs must lie ({@code blockferry.nbd.key-dir}); protected as storage. */
        public Builder keyDir(Path dir) {
            this.keyDir = dir.toAbsolutePath().normalize();
            return this;
        }

        /** Where the node's private export sockets live ({@code DIR/bf-*}): no job may connect to them. */
        public Builder exportRoot(Path dir) {
            this.exportRoot = dir.toAbsolutePath().normalize();
            return this;
        }

        /** Whether a URI may turn off the check of the server's certificate ({@code tls-verify-peer=false}). */
        public Builder allowUnverifiedTls(boolean allow) {
            this.allowUnverifiedTls = allow;
            return this;
        }

        public StoragePolicy build() {
            return new StoragePolicy(this, true);
        }
    }
}
