package org.blockferry.engine.source.vmware.vim;

import static org.blockferry.engine.source.vmware.vim.SoapCall.arg;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.blockferry.engine.plan.ChangedArea;
import org.blockferry.engine.source.vmware.vim.SoapCall.Arg;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A small vim25 SOAP client for what replication needs from vCenter: sessions, inventory
 * lookup, disk properties, CBT, snapshots, changed areas and power-off. Thread-safe; a call
 * that finds its session expired logs in again once and is retried.
 */
public final class VimClient implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(VimClient.class);
    private static final ManagedObject SERVICE_INSTANCE = new ManagedObject("ServiceInstance", "ServiceInstance");
    private static final Duration CALL_TIMEOUT = Duration.ofMinutes(2);
    /** vSphere allows 32 snapshots in a chain (VMware KB 1025279); a longer parent list is not believed. */
    private static final int MAX_CHAIN = 255;

    private static final Duration TASK_TIMEOUT = Duration.ofHours(1);
    /** The default bound on one reply: far above what a VM with many disks or a CBT reply holds; see reference.conf. */
    public static final long DEFAULT_MAX_REPLY_BYTES = 64L << 20;
    /** The setting that bounds replies, named when one is longer. */
    public static final String MAX_REPLY_KEY = "blockferry.vmware.max-reply-bytes";

    private final URI sdk;
    private final VsphereCredentials credentials;
    private final HttpClient http;
    private final long maxReplyBytes;
    private String apiVersion = "6.7";
    private ManagedObject propertyCollector;
    private ManagedObject searchIndex;
    private ManagedObject sessionManager;
    private volatile String cookie;
    private volatile String serverSha1;

    private VimClient(URI sdk, VsphereCredentials credentials, HttpClient http, long maxReplyBytes) {
        this.sdk = sdk;
        this.credentials = credentials;
        this.http = http;
        this.maxReplyBytes = maxReplyBytes;
    }

    /** Connects to {@code https://vcenter/sdk}, reads the service content and logs in; replies bounded by the default. */
    public static VimClient connect(URI sdk, VsphereCredentials credentials, VimTls tls) throws IOException {
        return connect(sdk, credentials, tls, DEFAULT_MAX_REPLY_BYTES);
    }

    /**
     * Connects, reads the service content and logs in. A reply longer than {@code maxReplyBytes}
     * fails its call, naming {@link #MAX_REPLY_KEY}, without being read further.
     */
    public static VimClient connect(URI sdk, VsphereCredentials credentials, VimTls tls, long maxReplyBytes)
            throws IOException {
        HttpClient.Builder b = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(30))
                .version(HttpClient.Version.HTTP_1_1);
        if (tls != null) {
            b.sslContext(tls.sslContext());
        } else if ("https".equals(sdk.getScheme())) {
            throw new IllegalArgumentException("an https vCenter URL needs a TLS trust setting");
        }
        VimClient c = new VimClient(sdk, credentials, b.build(), maxReplyBytes);
        c.retrieveServiceContent();
        c.login();
        return c;
    }

    private void retrieveServiceContent() throws IOException {
        XmlNode rv = raw("RetrieveServiceContent", SERVICE_INSTANCE, List.of()).child("returnval");
        if (rv == null) {
            throw new IOException(sdk + " did not return a vim25 service content");
        }
        propertyCollector = rv.child("propertyCollector").asManagedObject();
        searchIndex = rv.child("searchIndex").asManagedObject();
        sessionManager = rv.child("sessionManager").asManagedObject();
        String version = rv.text("about", "apiVersion");
        if (version != null && !version.isEmpty()) {
            apiVersion = version;
        }
    }

    private synchronized void login() throws IOException {
        cookie = null;
        SoapCall.Reply reply = SoapCall.invoke(http, sdk, apiVersion, null, CALL_TIMEOUT, maxReplyBytes, "Login",
                sessionManager, List.of(arg("userName", credentials.user()), arg("password", credentials.password())));
        if (reply.sessionCookie() == null) {
            throw new IOException("vCenter " + sdk + " accepted the login of " + credentials.user() + " but set no session cookie");
        }
        cookie = reply.sessionCookie();
        serverSha1 = reply.serverSha1();
        log.info("event=vsphere_login url={} user={}", sdk, credentials.user());
    }

    /**
     * The SHA-1 thumbprint ({@code AA:BB:...}) of the certificate vCenter presented at login,
     * which this client's trust setting accepted: what VDDK's {@code thumbprint=} wants. Empty
     * over plain http.
     */
    public Optional<String> serverSha1Thumbprint() {
        return Optional.ofNullable(serverSha1);
    }

    /** The SDK URL this client talks to. */
    public URI sdk() {
        return sdk;
    }

    /** Calls a method, logging in again once if the session turned out to be gone. */
    private XmlNode call(String method, ManagedObject target, List<Arg> args) throws IOException {
        String used = cookie;
        try {
            return raw(method, target, args);
        } catch (VimFault.NotAuthenticated e) {
            synchronized (this) {
                if (cookie == null || cookie.equals(used)) {
                    log.info("event=vsphere_relogin url={} user={} method={}", sdk, credentials.user(), method);
                    login();
                }
            }
            return raw(method, target, args);
        }
    }

    private XmlNode raw(String method, ManagedObject target, List<Arg> args) throws IOException {
        return SoapCall.invoke(http, sdk, apiVersion, cookie, CALL_TIMEOUT, maxReplyBytes, method, target, args).body();
    }

    /** The object at an inventory path such as {@code DC0/vm/folder/myvm}, if there is one. */
    public Optional<ManagedObject> findByInventoryPath(String path) throws IOException {
        XmlNode rv = call("FindByInventoryPath", searchIndex, List.of(arg("inventoryPath", path))).child("returnval");
        return rv == null || rv.text().isEmpty() ? Optional.empty() : Optional.of(rv.asManagedObject());
    }

    /** Reads properties of one object: property path to its value element (absent paths are missing). */
    Map<String, XmlNode> retrieve(ManagedObject obj, String... paths) throws IOException {
        List<Arg> propSet = new ArrayList<>(List.of(arg("type", obj.type()), arg("all", "false")));
        for (String p : paths) {
            propSet.add(arg("pathSet", p));
        }
        List<Arg> spec = List.of(arg("propSet", propSet), arg("objectSet", List.of(arg("obj", obj))));
        XmlNode reply = call("RetrieveProperties", propertyCollector, List.of(arg("specSet", spec)));
        Map<String, XmlNode> values = new HashMap<>();
        for (XmlNode rv : reply.children("returnval")) {
            for (XmlNode ps : rv.children("propSet")) {
                values.put(ps.text("name"), ps.child("val"));
            }
        }
        return values;
    }

    /**
     * The virtual disks of a VM, or of a snapshot ({@code VirtualMachineSnapshot}: its
     * {@code config} is the VM's as of the snapshot), with capacity, backing file, delta chain and
     * CBT changeId. A VM's disks run on its newest delta; a snapshot's name the file that was live
     * when it was taken, and the changeId as of then.
     */
    public List<VirtualDiskInfo> virtualDisks(ManagedObject vmOrSnapshot) throws IOException {
        XmlNode devices = retrieve(vmOrSnapshot, "config.hardware.device").get("config.hardware.device");
        List<VirtualDiskInfo> disks = new ArrayList<>();
        if (devices == null) {
            return disks;
        }
        for (XmlNode d : devices.children) {
            if (!"VirtualDisk".equals(d.xsiType)) {
                continue;
            }
            String bytes = d.text("capacityInBytes");
            long capacity = bytes != null ? Long.parseLong(bytes) : Long.parseLong(d.text("capacityInKB")) * 1024;
            String changeId = d.text("backing", "changeId");
            List<String> parents = new ArrayList<>();
            XmlNode backing = d.child("backing");
            for (XmlNode p = backing == null ? null : backing.child("parent"); p != null && parents.size() < MAX_CHAIN;
                 p = p.child("parent")) {
                String name = p.text("fileName");
                if (name != null) {
                    parents.add(name);
                }
            }
            disks.add(new VirtualDiskInfo(Integer.parseInt(d.text("key")), capacity, d.text("backing", "fileName"),
                    changeId == null || changeId.isEmpty() ? null : changeId, parents));
        }
        return disks;
    }

    public boolean changeTrackingEnabled(ManagedObject vm) throws IOException {
        XmlNode v = retrieve(vm, "config.changeTrackingEnabled").get("config.changeTrackingEnabled");
        return v != null && Boolean.parseBoolean(v.text());
    }

    /** {@code poweredOn}, {@code poweredOff} or {@code suspended}. */
    public String powerState(ManagedObject vm) throws IOException {
        XmlNode v = retrieve(vm, "runtime.powerState").get("runtime.powerState");
        return v == null ? null : v.text();
    }

    /** How many snapshots the VM has (the whole tree). */
    public int snapshotCount(ManagedObject vm) throws IOException {
        XmlNode info = retrieve(vm, "snapshot").get("snapshot");
        return info == null ? 0 : count(info.children("rootSnapshotList"));
    }

    /** The VM's snapshots of this name anywhere in its tree (e.g. left behind by a crashed process). */
    public List<ManagedObject> snapshotsNamed(ManagedObject vm, String name) throws IOException {
        XmlNode info = retrieve(vm, "snapshot").get("snapshot");
        List<ManagedObject> found = new ArrayList<>();
        if (info != null) {
            collect(info.children("rootSnapshotList"), name, found);
        }
        return found;
    }

    private static void collect(List<XmlNode> trees, String name, List<ManagedObject> found) {
        for (XmlNode t : trees) {
            if (name.equals(t.text("name"))) {
                found.add(t.child("snapshot").asManagedObject());
            }
            collect(t.children("childSnapshotList"), name, found);
        }
    }

    private static int count(List<XmlNode> trees) {
        int n = 0;
        for (XmlNode t : trees) {
            n += 1 + count(t.children("childSnapshotList"));
        }
        return n;
    }

    /** Turns Changed Block Tracking on (takes effect for the disks' changeIds at the next snapshot). */
    public void enableChangeTracking(ManagedObject vm) throws IOException {
        waitForTask(call("ReconfigVM_Task", vm,
                List.of(arg("spec", List.of(arg("changeTrackingEnabled", "true"))))));
    }

    /** Takes a snapshot without memory and returns it. */
    public ManagedObject createSnapshot(ManagedObject vm, String name, String description, boolean quiesce)
            throws IOException {
        XmlNode result = waitForTask(call("CreateSnapshot_Task", vm, List.of(arg("name", name),
                arg("description", description), arg("memory", "false"), arg("quiesce", String.valueOf(quiesce)))));
        if (result == null) {
            throw new IOException("CreateSnapshot_Task on " + vm + " returned no snapshot");
        }
        return result.asManagedObject();
    }

    /** Removes one snapshot (not its children) and consolidates its disks. */
    public void removeSnapshot(ManagedObject snapshot) throws IOException {
        waitForTask(call("RemoveSnapshot_Task", snapshot, List.of(arg("removeChildren", "false"), arg("consolidate", "true"))));
    }

    /** Asks the guest OS to shut down (returns at once; needs VMware Tools). */
    public void shutdownGuest(ManagedObject vm) throws IOException {
        call("ShutdownGuest", vm, List.of());
    }

    public void powerOff(ManagedObject vm) throws IOException {
        waitForTask(call("PowerOffVM_Task", vm, List.of()));
    }

    /**
     * The areas of a disk, as of a snapshot, that are allocated ({@code changeId} "*") or
     * changed since {@code changeId}; asks again from where each reply ends until the whole
     * disk is covered.
     */
    public List<ChangedArea> queryChangedDiskAreas(ManagedObject vm, ManagedObject snapshot, VirtualDiskInfo disk,
            String changeId) throws IOException {
        List<ChangedArea> areas = new ArrayList<>();
        long offset = 0;
        while (offset < disk.capacityInBytes()) {
            XmlNode rv;
            try {
                List<Arg> args = new ArrayList<>();
                if (snapshot != null) { // unset: the VM's current snapshot (vSphere allows it for a powered-off VM)
                    args.add(arg("snapshot", snapshot));
                }
                args.addAll(List.of(arg("deviceKey", String.valueOf(disk.key())),
                        arg("startOffset", String.valueOf(offset)), arg("changeId", changeId)));
                rv = call("QueryChangedDiskAreas", vm, args).child("returnval");
            } catch (VimFault f) {
                if (f.faultType().equals("NotSupported")) {
                    throw new VimFault.ChangeTrackingDisabled(f.faultType(), f.getMessage());
                }
                throw f;
            }
            if (rv == null) {
                throw new IOException("QueryChangedDiskAreas on " + vm + " disk " + disk.key() + " returned nothing");
            }
            long start = Long.parseLong(rv.text("startOffset"));
            long length = Long.parseLong(rv.text("length"));
            for (XmlNode a : rv.children("changedArea")) {
                areas.add(new ChangedArea(Long.parseLong(a.text("start")), Long.parseLong(a.text("length"))));
            }
            if (length <= 0 || start + length <= offset) {
                throw new IOException("QueryChangedDiskAreas on " + vm + " disk " + disk.key()
                        + " made no progress at offset " + offset);
            }
            offset = start + length;
        }
        return areas;
    }

    /** Polls a task until it ends; returns its result element (or null), or throws its fault. */
    private XmlNode waitForTask(XmlNode reply) throws IOException {
        ManagedObject task = reply.child("returnval").asManagedObject();
        long deadline = System.nanoTime() + TASK_TIMEOUT.toNanos();
        long pause = 20;
        while (true) {
            Map<String, XmlNode> info = retrieve(task, "info.state", "info.error", "info.result");
            String state = info.get("info.state") == null ? "" : info.get("info.state").text();
            if (state.equals("success")) {
                return info.get("info.result");
            }
            if (state.equals("error")) {
                XmlNode error = info.get("info.error");
                XmlNode fault = error == null ? null : error.child("fault");
                String type = fault == null || fault.xsiType == null ? "SystemError" : fault.xsiType;
                throw VimFault.of(type, error == null ? null : error.text("localizedMessage"));
            }
            if (System.nanoTime() > deadline) {
                throw new IOException("task " + task + " still " + state + " after " + TASK_TIMEOUT);
            }
            try {
                Thread.sleep(pause);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while waiting for task " + task, e);
            }
            pause = Math.min(pause * 2, 1000);
        }
    }

    /** Ends the session; a session that already expired is fine. */
    @Override
    public void close() throws IOException {
        if (cookie == null) {
            return;
        }
        try {
            raw("Logout", sessionManager, List.of());
        } catch (VimFault.NotAuthenticated e) {
            // already gone
        } finally {
            cookie = null;
        }
    }

    @Override
    public String toString() {
        return "VimClient[" + sdk + ", user=" + credentials.user() + "]";
    }
}
