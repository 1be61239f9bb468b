package org.blockferry.engine.cloudstack;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Typed, signed calls to one cloud's API, with retries of what may succeed later and polling of
 * async jobs. Thread-safe. Reads the key files when opened; never logs nor puts in a message a key,
 * a signature or a request's parameters (requests are POSTed, so the URL carries none either).
 */
public final class CloudStackApi {
    private static final Logger log = LoggerFactory.getLogger(CloudStackApi.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration CALL_TIMEOUT = Duration.ofMinutes(2);
    private static final int MAX_REPLY_BYTES = 16 << 20;
    private static final int TRIES = 5;
    private static final Duration FIRST_BACKOFF = Duration.ofMillis(500);
    private static final long MAX_BACKOFF_MS = 8_000;
    private static final long MAX_POLL_MS = 5_000;

    private final Cloud cloud;
    private final RequestSigner signer;
    private final HttpClient http;
    private final long firstBackoffMs;
    private final Map<String, Boolean> customized = new ConcurrentHashMap<>();
    private volatile String zoneId;

    private CloudStackApi(Cloud cloud, RequestSigner signer, Duration firstBackoff) {
        this.cloud = cloud;
        this.signer = signer;
        this.firstBackoffMs = firstBackoff.toMillis();
        this.http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(30)).version(HttpClient.Version.HTTP_1_1)
                .build();
    }

    /** Reads the cloud's key files (each trimmed) and gets ready to call it; nothing is sent yet. */
    public static CloudStackApi open(Cloud cloud) throws IOException {
        return open(cloud, FIRST_BACKOFF);
    }

    /** With a shorter first backoff, for tests that exhaust the retries. */
    static CloudStackApi open(Cloud cloud, Duration firstBackoff) throws IOException {
        String apiKey = readKey(cloud, "api-key-file", cloud.apiKeyFile());
        String secretKey = readKey(cloud, "secret-key-file", cloud.secretKeyFile());
        return new CloudStackApi(cloud, new RequestSigner(apiKey, secretKey, cloud.signatureVersion()), firstBackoff);
    }

    private static String readKey(Cloud cloud, String setting, Path file) throws IOException {
        String key;
        try {
            key = Files.readString(file, StandardCharsets.UTF_8).trim();
        } catch (IOException e) { // the exception's own message could say more than the key's name
            throw new IOException(cloud.key(setting) + ": " + file + " cannot be read (" + e.getClass().getSimpleName()
                    + ")");
        }
        if (key.isEmpty() || key.contains("\n")) {
            throw new IOException(cloud.key(setting) + ": " + file + " must hold the key on one line");
        }
        return key;
    }

    public Cloud cloud() {
        return cloud;
    }

    /**
     * One synchronous command; returns its {@code <command>response} object. Errors that may pass
     * (429, 530, 534, no reply) are tried again, {@value #TRIES} tries with backoff from 0.5 s.
     * A command that changes something is sent again only when it surely did not happen: the
     * server replied with an error, or no connection was made. Its reply lost after it was sent,
     * it fails as retryable, for the caller to look before it asks again.
     */
    public JsonNode call(String command, Map<String, String> params) throws IOException {
        long backoff = firstBackoffMs;
        for (int attempt = 1; ; attempt++) {
            try {
                return send(command, params);
            } catch (CloudStackException e) {
                if (!e.retryable() || attempt >= TRIES || !(readOnly(command) || surelyNotDone(e))) {
                    throw e;
                }
                log.info("event=cloudstack_retry cloud={} command={} code={} attempt={} backoff_ms={}", cloud.name(),
                        command, e.errorCode(), attempt, backoff);
                sleep(command, backoff);
                backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
            }
        }
    }

    /**
     * Submits an async command and polls {@code queryAsyncJobResult} until the job ends; returns
     * its {@code jobresult}. A failed job throws with the job's error code and text; one still
     * pending after the cloud's async-timeout throws a retryable exception (the job may still end).
     */
    public JsonNode callAsync(String command, Map<String, String> params) throws IOException {
        return awaitJob(command, call(command, params));
    }

    /** Polls the async job {@code submitted} names (the reply of {@code command}) until it ends; see {@link #callAsync}. */
    private JsonNode awaitJob(String command, JsonNode submitted) throws IOException {
        String jobId = submitted.path("jobid").asText("");
        if (jobId.isEmpty()) {
            throw CloudStackException.refused(command, "the reply names no async job (jobid)");
        }
        long deadline = System.nanoTime() + cloud.asyncTimeout().toNanos();
        long pause = 100;
        while (true) {
            JsonNode job = call("queryAsyncJobResult", Map.of("jobid", jobId));
            int status = job.path("jobstatus").asInt(-1);
            if (status == 1) {
                return job.path("jobresult");
            }
            if (status == 2) {
                JsonNode result = job.path("jobresult");
                int code = result.path("errorcode").asInt(job.path("jobresultcode").asInt(530));
                throw CloudStackException.replied(command, code, result.path("errortext").asText("async job " + jobId
                        + " failed"));
            }
            if (status != 0) {
                throw CloudStackException.refused(command, "async job " + jobId + " has an unknown status " + status);
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw CloudStackException.unreachable(command, "async job " + jobId + " still pending after "
                        + cloud.asyncTimeout() + " (" + cloud.key("async-timeout") + ")", null);
            }
            sleep(command, Math.min(pause, Math.max(1, left / 1_000_000)));
            pause = Math.min(pause * 2, MAX_POLL_MS);
        }
    }

    /** The cloud's zone: a UUID as configured, otherwise the one zone of that name. */
    public String zoneId() throws IOException {
        String id = zoneId;
        if (id == null) {
            id = resolve("listZones", "zone", cloud.zone(), cloud.key("zone"));
            zoneId = id;
        }
        return id;
    }

    /** A disk offering given by UUID or by name (exactly one match); null: the cloud's disk-offering. */
    public String diskOfferingId(String nameOrId) throws IOException {
        return nameOrId == null ? resolve("listDiskOfferings", "diskoffering", cloud.diskOffering(),
                cloud.key("disk-offering")) : resolve("listDiskOfferings", "diskoffering", nameOrId, null);
    }

    /** Whether the offering lets a volume's size be chosen ({@code iscustomized}). */
    public boolean customizedOffering(String offeringId) throws IOException {
        Boolean known = customized.get(offeringId);
        if (known != null) {
            return known;
        }
        List<JsonNode> found = list("listDiskOfferings", "diskoffering", Map.of("id", offeringId));
        if (found.isEmpty()) {
            throw CloudStackException.refused("listDiskOfferings", "no disk offering has id " + offeringId);
        }
        boolean c = found.get(0).path("iscustomized").asBoolean(false);
        customized.put(offeringId, c);
        return c;
    }

    /** Told a new volume's id as soon as CloudStack answers the create, before its async job ends. */
    @FunctionalInterface
    public interface Created {
        void known(String volumeId) throws IOException;
    }

    /**
     * Creates a data volume ({@code Allocated} until first attached). {@code sizeGiB} is sent only
     * when the offering is customized; otherwise the offering's size is the volume's.
     */
    public Volume createVolume(String name, String zoneId, String diskOfferingId, long sizeGiB) throws IOException {
        return createVolume(name, zoneId, diskOfferingId, sizeGiB, id -> { });
    }

    /**
     * As {@link #createVolume(String, String, String, long)}, telling {@code created} the volume's
     * id from the create's own reply, before waiting for its job: a caller that records it there
     * never loses a volume whose job outlives the wait.
     */
    public Volume createVolume(String name, String zoneId, String diskOfferingId, long sizeGiB, Created created)
            throws IOException {
        if (sizeGiB < 1) {
            throw new IllegalArgumentException("a volume is at least 1 GiB, not " + sizeGiB);
        }
        Map<String, String> params = new HashMap<>(Map.of("name", name, "zoneid", zoneId, "diskofferingid",
                diskOfferingId));
        if (customizedOffering(diskOfferingId)) {
            params.put("size", Long.toString(sizeGiB));
        }
        JsonNode submitted = call("createVolume", params);
        String id = submitted.path("id").asText("");
        if (!id.isEmpty()) {
            created.known(id);
        }
        Volume volume = volumeOf("createVolume", awaitJob("createVolume", submitted));
        if (id.isEmpty()) {
            created.known(volume.id()); // a server that names the volume only in the job's result
        }
        return volume;
    }

    /** Attaches a volume to an instance (the next free device id). */
    public Volume attachVolume(String volumeId, String vmId) throws IOException {
        return volumeOf("attachVolume", callAsync("attachVolume", Map.of("id", volumeId, "virtualmachineid", vmId)));
    }

    /**
     * Detaches a volume and checks with {@code listVolumes} that it is detached (a late detach job
     * of CloudStack has undone newer attaches: the next step must not start on its word alone).
     */
    public void detachVerified(String volumeId) throws IOException {
        detachVolume(volumeId);
        Volume after = volume(volumeId).orElseThrow(() -> new IOException("volume " + volumeId
                + " disappeared while being detached"));
        if (after.virtualMachineId() != null) {
            throw new IOException("volume " + volumeId + " is still attached to VM " + after.virtualMachineId()
                    + " after its detach completed");
        }
    }

    public Volume detachVolume(String volumeId) throws IOException {
        return volumeOf("detachVolume", callAsync("detachVolume", Map.of("id", volumeId)));
    }

    /** Deletes a detached volume. */
    public void deleteVolume(String volumeId) throws IOException {
        JsonNode reply = call("deleteVolume", Map.of("id", volumeId));
        if (!reply.path("success").asBoolean(false)) { // "true" as a string, or a boolean
            throw CloudStackException.refused("deleteVolume", "volume " + volumeId + " was not deleted: "
                    + reply.path("displaytext").asText("no reason given"));
        }
    }

    /** The volume with this id, if the cloud still has it. */
    public Optional<Volume> volume(String volumeId) throws IOException {
        List<Volume> found = volumes(Map.of("id", volumeId, "listall", "true"));
        return found.stream().filter(v -> volumeId.equals(v.id())).findFirst();
    }

    /** The volumes of this exact name (to find what an interrupted create left). */
    public List<Volume> volumesNamed(String name) throws IOException {
        return volumes(Map.of("name", name, "listall", "true")).stream().filter(v -> name.equals(v.name())).toList();
    }

    /** The volumes attached to an instance, its root disk among them. */
    public List<Volume> volumesOf(String vmId) throws IOException {
        return volumes(Map.of("virtualmachineid", vmId, "listall", "true"));
    }

    /** An instance's state: {@code Running}, {@code Stopped}, ... */
    public String vmState(String vmId) throws IOException {
        List<JsonNode> vms = list("listVirtualMachines", "virtualmachine", Map.of("id", vmId, "listall", "true"));
        if (vms.isEmpty()) {
            throw CloudStackException.refused("listVirtualMachines", "no instance has id " + vmId);
        }
        return vms.get(0).path("state").asText();
    }

    private List<Volume> volumes(Map<String, String> filter) throws IOException {
        return list("listVolumes", "volume", filter).stream().map(Volume::of).toList();
    }

    /**
     * The objects a list command returns. An id that names nothing is a 431 "entity does not
     * exist" for CloudStack (the UUID does not map to a row): that is an empty list here.
     */
    private List<JsonNode> list(String command, String field, Map<String, String> filter) throws IOException {
        JsonNode reply;
        try {
            reply = call(command, filter);
        } catch (CloudStackException e) {
            if (e.errorCode() == 431 && filter.containsKey("id") && e.errorText().contains("does not exist")) {
                return List.of();
            }
            throw e;
        }
        List<JsonNode> items = new ArrayList<>();
        reply.path(field).forEach(items::add);
        return items;
    }

    /** A UUID as is; a name: the id of the one object so named. */
    private String resolve(String command, String field, String nameOrId, String key) throws IOException {
        if (Clouds.UUID.matcher(nameOrId).matches()) {
            return nameOrId;
        }
        List<JsonNode> named = list(command, field, Map.of("name", nameOrId)).stream()
                .filter(n -> nameOrId.equals(n.path("name").asText())).toList();
        String what = field.equals("zone") ? "zone" : "disk offering";
        String fix = key == null ? "" : " (" + key + ")";
        if (named.isEmpty()) {
            throw CloudStackException.refused(command, "no " + what + " is named '" + nameOrId + "' in "
                    + cloud.describe() + fix);
        }
        if (named.size() > 1) {
            throw CloudStackException.refused(command, named.size() + " " + what + "s are named '" + nameOrId + "' in "
                    + cloud.describe() + ": give its id instead" + fix);
        }
        return named.get(0).path("id").asText();
    }

    private static Volume volumeOf(String command, JsonNode jobResult) throws CloudStackException {
        JsonNode v = jobResult.path("volume");
        if (!v.isObject() || !v.hasNonNull("id")) {
            throw CloudStackException.refused(command, "the job's result holds no volume");
        }
        return Volume.of(v);
    }

    private static boolean readOnly(String command) {
        return command.startsWith("list") || command.startsWith("query");
    }

    /** The server said no, or the connection never opened: the command did not run. */
    private static boolean surelyNotDone(CloudStackException e) {
        return e.errorCode() != 0 || e.getCause() instanceof ConnectException
                || e.getCause() instanceof HttpConnectTimeoutException;
    }

    /** Sends one request and reads its {@code <command>response}. */
    private JsonNode send(String command, Map<String, String> params) throws CloudStackException {
        String body = signer.form(signer.parameters(command, params, Instant.now()));
        HttpRequest request = HttpRequest.newBuilder(cloud.url()).timeout(CALL_TIMEOUT)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .header("Accept", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8)).build();
        int status;
        byte[] bytes;
        try {
            HttpResponse<InputStream> res = http.send(request, HttpResponse.BodyHandlers.ofInputStream());
            status = res.statusCode();
            try (InputStream in = res.body()) {
                bytes = in.readNBytes(MAX_REPLY_BYTES + 1);
            }
        } catch (IOException e) {
            throw CloudStackException.unreachable(command, "no reply from " + cloud.describe() + " ("
                    + e.getClass().getSimpleName() + ")", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CloudStackException(command, 0, "interrupted", false, e);
        }
        if (bytes.length > MAX_REPLY_BYTES) {
            throw CloudStackException.refused(command, "the reply of " + cloud.describe() + " is longer than "
                    + MAX_REPLY_BYTES + " bytes");
        }
        JsonNode root;
        try {
            root = JSON.readTree(bytes);
        } catch (IOException e) {
            root = null;
        }
        String responseField = command.toLowerCase(Locale.ROOT) + "response";
        JsonNode reply = root == null ? null : root.get(responseField);
        if (status == 200 && reply != null && reply.isObject()) {
            return reply;
        }
        if (reply == null && root != null && root.isObject() && root.size() == 1) {
            reply = root.elements().next(); // an error may be answered under another name ("errorresponse")
        }
        if (reply == null || !reply.isObject()) {
            throw CloudStackException.replied(command, status == 200 ? 530 : status, "HTTP " + status
                    + " without a JSON " + responseField + " from " + cloud.describe());
        }
        int code = reply.path("errorcode").asInt(status == 200 ? 530 : status);
        throw CloudStackException.replied(command, code, reply.path("errortext").asText("HTTP " + status));
    }

    private static void sleep(String command, long millis) throws IOException {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CloudStackException(command, 0, "interrupted", false, e);
        }
    }

    @Override
    public String toString() {
        return "CloudStackApi[" + cloud.name() + " " + cloud.url() + "]";
    }
}
