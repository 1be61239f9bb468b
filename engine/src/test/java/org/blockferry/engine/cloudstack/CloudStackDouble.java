package org.blockferry.engine.cloudstack;

import static org.blockferry.engine.cloudstack.CloudModel.JSON;
import static org.blockferry.engine.cloudstack.CloudModel.json;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.blockferry.engine.cloudstack.CloudModel.ApiError;
import org.blockferry.engine.cloudstack.CloudModel.Vm;
import org.blockferry.engine.cloudstack.CloudModel.Vol;

/**
 * A CloudStack API double for tests: an HTTP server on 127.0.0.1 that checks signatures as the
 * management server does and models volumes, instances and async jobs, attaching volumes to
 * appliance VMs as real loop devices (root only). See README.md beside it.
 */
public final class CloudStackDouble implements AutoCloseable {
    /** Commands that change something: each request of one is in {@link #calls()}. */
    private static final Set<String> MUTATING = Set.of("createVolume", "attachVolume", "detachVolume", "deleteVolume",
            "deployVirtualMachine", "startVirtualMachine", "stopVirtualMachine");
    private static final String AUTH_FAILED = "unable to verify user credentials and/or request signature";

    /**
     * A mutating request the double received from an authenticated caller.
     *
     * @param command   e.g. {@code attachVolume}
     * @param volumeId  the volume it named or created, or null
     * @param vmId      the instance it named (or, for detachVolume, the one the volume left), or null
     * @param errorCode 0 when it was done (or its async job is still running); otherwise the
     *                  error code of its reply or of its async job
     */
    public record Call(String command, String volumeId, String vmId, int errorCode) {
    }

    private record Fault(int code, String text) {
    }

    private static final class Job {
        final String id = CloudModel.newId();
        final String command;
        int pollsLeft;
        ObjectNode result;
        ApiError error;
        boolean neverEnds;
        Work held; // a never-ending job's work, done if asyncEndsAgain releases it

        Job(String command, int pollsLeft) {
            this.command = command;
            this.pollsLeft = pollsLeft;
        }
    }

    private final RequestCheck check;
    private final Path workDir;
    private final Path apiKeyFile;
    private final Path secretKeyFile;
    private final CloudModel model;
    private final HttpServer server;
    private final ExecutorService executor;
    private final Thread cleanupAtExit = new Thread(this::closeQuietly, "cloudstack-double-cleanup");
    private final Map<String, Job> jobs = new HashMap<>();
    private final Map<String, Deque<Fault>> syncFaults = new HashMap<>();
    private final Map<String, Deque<Fault>> asyncFaults = new HashMap<>();
    private final Set<String> neverEnding = new HashSet<>();
    private final List<Call> calls = new ArrayList<>();
    private final Map<String, Integer> requests = new TreeMap<>();
    private int authFailures;
    private int pendingPolls = 1;
    private boolean closed;

    private CloudStackDouble(String apiKey, String secretKey, Path workDir) throws IOException {
        this.check = new RequestCheck(apiKey, secretKey);
        this.workDir = Files.createDirectories(workDir.toAbsolutePath());
        this.apiKeyFile = Files.writeString(this.workDir.resolve("api-key"), apiKey + "\n");
        this.secretKeyFile = Files.writeString(this.workDir.resolve("secret-key"), secretKey + "\n");
        this.model = new CloudModel(Files.createDirectories(this.workDir.resolve("volumes")));
        this.server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        this.executor = Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, "cloudstack-double");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(executor);
        server.createContext("/client/api", this::handle);
        server.start();
        Runtime.getRuntime().addShutdownHook(cleanupAtExit); // a backstop: loop devices outlive the JVM
    }

    /**
     * Starts a double that accepts this API key and secret key; its volume files, key files and
     * appliance device links (when no other dir is given) go under {@code workDir} (under the build dir).
     */
    public static CloudStackDouble start(String apiKey, String secretKey, Path workDir) throws IOException {
        return new CloudStackDouble(apiKey, secretKey, workDir);
    }

    /** Fails with a clear message where loop devices cannot be made (not root, no losetup). */
    public static void requireLoopDevices() {
        LoopDevices.requireAvailable();
    }

    /** {@code http://127.0.0.1:PORT/client/api} */
    public URI url() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/client/api");
    }

    /** Files holding the keys (with a trailing newline, as an operator's would). */
    public Path apiKeyFile() {
        return apiKeyFile;
    }

    public Path secretKeyFile() {
        return secretKeyFile;
    }

    /** A cloud of this double for {@link CloudStackApi#open}: async-timeout 30 s, device-timeout 10 s, signature 3. */
    public Cloud cloud(String name, String zone, String diskOffering, String applianceVmId, Path deviceDir) {
        return new Cloud(name, url(), apiKeyFile, secretKeyFile, zone, diskOffering, applianceVmId, deviceDir,
                Duration.ofSeconds(30), Duration.ofSeconds(10), 3);
    }

    /** The cloud as a node's configuration says it, as keys and values (for a node started in the test's JVM). */
    public static java.util.Map<String, Object> nodeConfig(Cloud c) {
        java.util.Map<String, Object> m = new java.util.HashMap<>();
        String key = Clouds.KEY + "." + c.name() + ".";
        m.put(key + "url", c.url().toString());
        m.put(key + "api-key-file", c.apiKeyFile().toString());
        m.put(key + "secret-key-file", c.secretKeyFile().toString());
        m.put(key + "zone", c.zone());
        m.put(key + "disk-offering", c.diskOffering());
        m.put(key + "appliance-vm-id", c.applianceVmId());
        m.put(key + "device-dir", c.deviceDir().toString());
        m.put(key + "async-timeout", c.asyncTimeout().toMillis() + "ms");
        m.put(key + "device-timeout", c.deviceTimeout().toMillis() + "ms");
        m.put(key + "signature-version", c.signatureVersion());
        return m;
    }

    /** The cloud as a node's configuration says it (HOCON, one line), for tests that start nodes. */
    public static String hocon(Cloud c) {
        return Clouds.KEY + "." + c.name() + " { url = \"" + c.url() + "\", api-key-file = \"" + c.apiKeyFile()
                + "\", secret-key-file = \"" + c.secretKeyFile() + "\", zone = \"" + c.zone() + "\", disk-offering = \""
                + c.diskOffering() + "\", appliance-vm-id = \"" + c.applianceVmId() + "\", device-dir = \""
                + c.deviceDir() + "\", async-timeout = " + c.asyncTimeout().toMillis() + "ms, device-timeout = "
                + c.deviceTimeout().toMillis() + "ms, signature-version = " + c.signatureVersion() + " }";
    }

    // ---- what the cloud holds

    public synchronized String addZone(String name) {
        String id = CloudModel.newId();
        model.zones.put(id, new CloudModel.Zone(id, name));
        return id;
    }

    /** A disk offering; a fixed one (not customized) makes 1 GiB volumes. */
    public synchronized String addDiskOffering(String name, boolean customized) {
        String id = CloudModel.newId();
        model.offerings.put(id, new CloudModel.Offering(id, name, customized, 1));
        return id;
    }

    /** A disk offering that is not customized: its volumes are {@code sizeGb} GiB. */
    public synchronized String addFixedDiskOffering(String name, long sizeGb) {
        String id = CloudModel.newId();
        model.offerings.put(id, new CloudModel.Offering(id, name, false, sizeGb));
        return id;
    }

    /** A template deployVirtualMachine can start from; its instances' ROOT volumes are {@code sizeGb} GiB. */
    public synchronized String addTemplate(String name, long sizeGb) {
        String id = CloudModel.newId();
        model.templates.put(id, new CloudModel.Template(id, name, sizeGb));
        return id;
    }

    /**
     * An instance, in any zone; volumes attached to it appear under {@code deviceDir} as
     * {@code virtio-SERIAL} links to loop devices (null: they do not appear anywhere).
     */
    public synchronized String addVm(String name, String state, Path deviceDir) {
        String id = CloudModel.newId();
        model.vms.put(id, new Vm(id, name, null, state, deviceDir == null ? null : deviceDir.toAbsolutePath()));
        return id;
    }

    /** Sets an instance's state (e.g. Starting, to see attachVolume refused). */
    public synchronized void vmState(String vmId, String state) {
        model.vms.get(vmId).state = state;
    }

    /**
     * A DATADISK volume BlockFerry did not create (not in {@link #calls()}), in the first zone,
     * attached to {@code vmId} unless it is null.
     */
    public synchronized String addForeignVolume(String name, long sizeGb, String vmId) throws IOException {
        String zone = model.zones.keySet().stream().findFirst().orElse(null);
        Vol v = model.newVolume(CloudModel.newId(), name, zone, null, sizeGb * CloudModel.GIB, "DATADISK");
        if (vmId != null) {
            model.attach(v, model.vms.get(vmId), Map.of());
        }
        return v.id;
    }

    /**
     * Attaches a volume as an operator would in CloudStack's UI, not through BlockFerry: not in
     * {@link #calls()}; the same checks and devices as attachVolume (refused: IllegalStateException
     * with CloudStack's text).
     */
    public synchronized void attachByHand(String volumeId, String vmId) throws IOException {
        Vm vm = model.vms.get(vmId);
        if (vm == null) {
            throw new IllegalArgumentException("the double has no instance " + vmId);
        }
        try {
            model.attach(byHand(volumeId), vm, Map.of());
        } catch (ApiError e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }

    /** Detaches a volume as an operator would, not through BlockFerry: not in {@link #calls()}. */
    public synchronized void detachByHand(String volumeId) throws IOException {
        try {
            model.detach(byHand(volumeId));
        } catch (ApiError e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }

    private Vol byHand(String volumeId) {
        Vol v = model.volumes.get(volumeId);
        if (v == null) {
            throw new IllegalArgumentException("the double has no volume " + volumeId);
        }
        return v;
    }

    /** Async jobs answer "pending" to this many polls before their result (default 1). */
    public synchronized void pendingPolls(int polls) {
        this.pendingPolls = polls;
    }

    /** Data disks one instance may have attached (default 6, CloudStack's when the hypervisor says none). */
    public synchronized void dataDiskLimit(int limit) {
        model.dataDiskLimit = limit;
    }

    // ---- faults

    /** The next request of {@code command} is answered with this error (HTTP status = code), doing nothing. */
    public synchronized void failNext(String command, int code, String text) {
        syncFaults.computeIfAbsent(command, c -> new ArrayDeque<>()).add(new Fault(code, text));
    }

    /** The next {@code command}'s async job does nothing and ends failed (jobstatus 2) with this code and text. */
    public synchronized void failNextAsync(String command, int code, String text) {
        asyncFaults.computeIfAbsent(command, c -> new ArrayDeque<>()).add(new Fault(code, text));
    }

    /** Every later {@code command}'s async job stays pending and does nothing. */
    public synchronized void asyncNeverEnds(String command) {
        neverEnding.add(command);
    }

    /**
     * Ends {@link #asyncNeverEnds} for {@code command}: later jobs end as usual, and each of its
     * jobs held so far does its work now and tells its result (or error) to its next poll.
     */
    public synchronized void asyncEndsAgain(String command) throws IOException {
        neverEnding.remove(command);
        for (Job job : jobs.values()) {
            if (job.neverEnds && job.command.equals(command)) {
                job.neverEnds = false;
                job.pollsLeft = 0;
                Work work = job.held;
                job.held = null;
                try {
                    job.result = work.run();
                } catch (ApiError e) {
                    job.error = e;
                }
            }
        }
    }

    // ---- what happened

    /** Every mutating request of an authenticated caller, in order. */
    public synchronized List<Call> calls() {
        return List.copyOf(calls);
    }

    /** Authenticated requests of a command so far (read or mutating, failed or not). */
    public synchronized int requests(String command) {
        return requests.getOrDefault(command, 0);
    }

    /** Requests refused with 401 (bad key, signature or expiry) so far. */
    public synchronized int authFailures() {
        return authFailures;
    }

    public synchronized List<Volume> volumes() {
        return model.volumes.values().stream().map(Vol::view).toList();
    }

    public synchronized Optional<Volume> volume(String volumeId) {
        return Optional.ofNullable(model.volumes.get(volumeId)).map(Vol::view);
    }

    /** The file holding a volume's bytes (kept across detach and attach, deleted with the volume). */
    public synchronized Path volumeFile(String volumeId) {
        Vol v = model.volumes.get(volumeId);
        if (v == null) {
            throw new IllegalArgumentException("the double has no volume " + volumeId);
        }
        return v.file;
    }

    // ---- HTTP

    private void handle(HttpExchange exchange) throws IOException {
        String command = "";
        try {
            Map<String, String> params = RequestCheck.parameters(exchange);
            command = params.getOrDefault("command", "");
            String failure = check.refusal(params);
            if (failure != null) {
                synchronized (this) {
                    authFailures++;
                }
                reply(exchange, command, 401, error(401, AUTH_FAILED + " (" + failure + ")"));
                return;
            }
            ObjectNode body;
            synchronized (this) {
                requests.merge(command, 1, Integer::sum);
                body = dispatch(command, params);
            }
            reply(exchange, command, 200, body);
        } catch (ApiError e) {
            reply(exchange, command, e.code, error(e.code, e.getMessage()));
        } catch (IOException | RuntimeException e) {
            reply(exchange, command, 530, error(530, "the double failed: " + e));
        } finally {
            exchange.close();
        }
    }

    private ObjectNode dispatch(String command, Map<String, String> p) throws IOException {
        Deque<Fault> faults = syncFaults.get(command);
        Fault fault = faults == null ? null : faults.poll();
        if (fault != null) {
            audit(command, p.get("id"), p.get("virtualmachineid"), fault.code);
            throw new ApiError(fault.code, fault.text);
        }
        try {
            return run(command, p);
        } catch (ApiError e) {
            audit(command, p.get("id"), p.get("virtualmachineid"), e.code);
            throw e;
        }
    }

    private ObjectNode run(String command, Map<String, String> p) throws IOException {
        switch (command) {
            case "listZones": return model.listZones(p);
            case "listDiskOfferings": return model.listDiskOfferings(p);
            case "listVirtualMachines": return model.listVirtualMachines(p);
            case "listVolumes": return model.listVolumes(p);
            case "queryAsyncJobResult": return query(CloudModel.required(p, "jobid"));
            case "deleteVolume": {
                ObjectNode r = model.deleteVolume(p);
                audit(command, p.get("id"), null, 0);
                return r;
            }
            case "createVolume": {
                Vol v = model.allocateVolume(p);
                audit(command, v.id, null, 0);
                ObjectNode r = submit(command, () -> CloudModel.result("volume", model.volumeJson(v)));
                return r.put("id", v.id);
            }
            case "attachVolume": {
                Vol v = model.volume(p, "id");
                Vm vm = model.vm(p, "virtualmachineid");
                return audited(command, v.id, vm.id, submit(command, () -> model.attach(v, vm, p)));
            }
            case "detachVolume": {
                Vol v = model.volume(p, "id");
                String vmId = v.vm == null ? null : v.vm.id;
                return audited(command, v.id, vmId, submit(command, () -> model.detach(v)));
            }
            case "deployVirtualMachine": {
                Vm vm = model.deploy(p);
                audit(command, null, vm.id, 0);
                return submit(command, () -> CloudModel.result("virtualmachine", model.vmJson(vm))).put("id", vm.id);
            }
            case "startVirtualMachine": {
                Vm vm = model.vm(p, "id");
                return audited(command, null, vm.id, submit(command, () -> model.setVmState(vm, "Stopped", "Running")));
            }
            case "stopVirtualMachine": {
                Vm vm = model.vm(p, "id");
                return audited(command, null, vm.id, submit(command, () -> model.setVmState(vm, "Running", "Stopped")));
            }
            default:
                throw new ApiError(432, "The given command '" + command + "' either does not exist, is not available"
                        + " for user, or not available from ip address '127.0.0.1'.");
        }
    }

    /** What a job does, run when it is submitted; its result is told after the pending polls. */
    private interface Work {
        ObjectNode run() throws IOException;
    }

    private ObjectNode submit(String command, Work work) throws IOException {
        Job job = new Job(command, pendingPolls);
        jobs.put(job.id, job);
        Deque<Fault> faults = asyncFaults.get(command);
        Fault fault = faults == null ? null : faults.poll();
        if (neverEnding.contains(command)) {
            job.neverEnds = true;
            job.held = work;
        } else if (fault != null) {
            job.error = new ApiError(fault.code, fault.text);
        } else {
            try {
                job.result = work.run();
            } catch (ApiError e) { // checked inside the job, as CloudStack's execute() does
                job.error = e;
            }
        }
        return json("jobid", job.id);
    }

    private ObjectNode audited(String command, String volumeId, String vmId, ObjectNode submitted) {
        Job job = jobs.get(submitted.get("jobid").asText());
        audit(command, volumeId, vmId, job.error == null ? 0 : job.error.code);
        return submitted;
    }

    private void audit(String command, String volumeId, String vmId, int code) {
        if (MUTATING.contains(command)) {
            calls.add(new Call(command, volumeId, vmId, code));
        }
    }

    private ObjectNode query(String jobId) {
        Job job = jobs.get(jobId);
        if (job == null) {
            throw CloudModel.noEntity("jobid", jobId);
        }
        ObjectNode r = json("jobid", job.id, "cmd", "org.apache.cloudstack.api.command.user." + job.command,
                "jobprocstatus", 0);
        if (job.neverEnds || job.pollsLeft > 0) {
            job.pollsLeft--;
            return r.put("jobstatus", 0).put("jobresultcode", 0);
        }
        if (job.error != null) { // CloudStack's job code is 530; the exception's own code is in the result
            r.put("jobstatus", 2).put("jobresultcode", 530).put("jobresulttype", "object");
            r.set("jobresult", json("errorcode", job.error.code, "errortext", job.error.getMessage()));
            return r;
        }
        r.put("jobstatus", 1).put("jobresultcode", 0).put("jobresulttype", "object");
        r.set("jobresult", job.result);
        return r;
    }

    private static ObjectNode error(int code, String text) {
        return json("uuidList", JSON.createArrayNode(), "errorcode", code, "cserrorcode", 9999, "errortext", text);
    }

    private static void reply(HttpExchange exchange, String command, int status, ObjectNode body) throws IOException {
        String name = command.isEmpty() ? "errorresponse" : command.toLowerCase(Locale.ROOT) + "response";
        byte[] bytes = JSON.writeValueAsBytes(CloudModel.result(name, body));
        exchange.getResponseHeaders().set("Content-Type", "application/json; charset=UTF-8");
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    /** Stops serving, detaches every loop device it made, and deletes its volume files, links and key files. */
    @Override
    public void close() throws IOException {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        server.stop(0);
        executor.shutdownNow();
        IOException first = null;
        synchronized (this) {
            for (Vol v : model.plugged()) {
                try {
                    model.unplug(v);
                } catch (IOException e) {
                    first = first == null ? e : first;
                }
            }
            for (Vol v : model.volumes.values()) {
                Files.deleteIfExists(v.file);
            }
            model.volumes.clear();
        }
        Files.deleteIfExists(workDir.resolve("volumes"));
        Files.deleteIfExists(apiKeyFile);
        Files.deleteIfExists(secretKeyFile);
        try (var left = Files.list(workDir)) {
            if (left.findAny().isEmpty()) {
                Files.delete(workDir);
            }
        }
        try {
            Runtime.getRuntime().removeShutdownHook(cleanupAtExit);
        } catch (IllegalStateException e) {
            // the JVM is exiting: this is the hook running
        }
        if (first != null) {
            throw first;
        }
    }

    private void closeQuietly() {
        try {
            close();
        } catch (IOException e) {
            System.err.println("CloudStack double: cleanup failed: " + e);
        }
    }

    @Override
    public String toString() {
        return "CloudStackDouble[" + url() + "]";
    }
}
