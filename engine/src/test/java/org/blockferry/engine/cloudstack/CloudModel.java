package org.blockferry.engine.cloudstack;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * What the CloudStack double knows (zones, offerings, templates, instances, volumes) and what its
 * commands do to it. Not thread-safe: {@link CloudStackDouble} calls it under its lock.
 */
final class CloudModel {
    static final ObjectMapper JSON = new ObjectMapper();
    static final long GIB = 1L << 30;
    private static final int CDROM_DEVICE_ID = 3;

    /** An error reply: CloudStack's code (its HTTP status) and text. */
    static final class ApiError extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final int code;

        ApiError(int code, String text) {
            super(text);
            this.code = code;
        }
    }

    record Zone(String id, String name) {
    }

    record Offering(String id, String name, boolean customized, long diskSizeGb) {
    }

    record Template(String id, String name, long sizeGb) {
    }

    static final class Vm {
        final String id;
        final String name;
        final String zoneId;
        final Path deviceDir;
        String state;

        Vm(String id, String name, String zoneId, String state, Path deviceDir) {
            this.id = id;
            this.name = name;
            this.zoneId = zoneId;
            this.state = state;
            this.deviceDir = deviceDir;
        }
    }

    static final class Vol {
        final String id;
        final String name;
        final String zoneId;
        final String offeringId;
        final long sizeBytes;
        String type;
        final Path file;
        final Instant created = Instant.now();
        String state;
        Vm vm;
        Integer deviceId;
        Path loop;
        Path link;

        Vol(String id, String name, String zoneId, String offeringId, long sizeBytes, String type, Path file) {
            this.id = id;
            this.name = name;
            this.zoneId = zoneId;
            this.offeringId = offeringId;
            this.sizeBytes = sizeBytes;
            this.type = type;
            this.file = file;
        }

        Volume view() {
            return new Volume(id, name, sizeBytes, state, vm == null ? null : vm.id, deviceId, type);
        }
    }

    final Map<String, Zone> zones = new LinkedHashMap<>();
    final Map<String, Offering> offerings = new LinkedHashMap<>();
    final Map<String, Template> templates = new LinkedHashMap<>();
    final Map<String, Vm> vms = new LinkedHashMap<>();
    final Map<String, Vol> volumes = new LinkedHashMap<>();
    private final Path volumeDir;
    int dataDiskLimit = 6;

    CloudModel(Path volumeDir) {
        this.volumeDir = volumeDir;
    }

    static String newId() {
        return UUID.randomUUID().toString();
    }

    // ---- sync commands: each returns the <command>response object

    ObjectNode listZones(Map<String, String> p) {
        return list("zone", zones.values(), p, z -> json("id", z.id(), "name", z.name()),
                z -> matches(p, "id", z.id()) && matches(p, "name", z.name()));
    }

    ObjectNode listDiskOfferings(Map<String, String> p) {
        return list("diskoffering", offerings.values(), p, o -> json("id", o.id(), "name", o.name(), "iscustomized",
                o.customized(), "disksize", o.customized() ? null : o.diskSizeGb()),
                o -> matches(p, "id", o.id()) && matches(p, "name", o.name()));
    }

    ObjectNode listVirtualMachines(Map<String, String> p) {
        return list("virtualmachine", vms.values(), p, this::vmJson,
                v -> matches(p, "id", v.id) && matches(p, "name", v.name));
    }

    ObjectNode listVolumes(Map<String, String> p) {
        return list("volume", volumes.values(), p, this::volumeJson, v -> matches(p, "id", v.id)
                && matches(p, "name", v.name) && matches(p, "virtualmachineid", v.vm == null ? null : v.vm.id)
                && matches(p, "type", v.type));
    }

    /** CloudStack turns an id parameter into a row first: an unknown one is a parameter error. */
    private <T> ObjectNode list(String field, Iterable<T> all, Map<String, String> p,
            Function<T, ObjectNode> json, Predicate<T> filter) {
        ArrayNode items = JSON.createArrayNode();
        for (T t : all) {
            if (filter.test(t)) {
                items.add(json.apply(t));
            }
        }
        if (p.containsKey("id") && items.isEmpty()) {
            throw noEntity("id", p.get("id"));
        }
        ObjectNode reply = JSON.createObjectNode();
        if (!items.isEmpty()) { // CloudStack omits empty fields: no match is {}
            reply.put("count", items.size());
            reply.set(field, items);
        }
        return reply;
    }

    private static boolean matches(Map<String, String> p, String param, String value) {
        String wanted = p.get(param);
        return wanted == null || wanted.equals(value);
    }

    ObjectNode deleteVolume(Map<String, String> p) throws IOException {
        Vol v = volume(p, "id");
        if (v.vm != null) {
            throw new ApiError(431, "Please specify a volume that is not attached to any VM.");
        }
        volumes.remove(v.id);
        Files.deleteIfExists(v.file);
        return json("success", "true");
    }

    /** createVolume's checks run before its job (allocVolume): their errors are the call's. */
    Vol allocateVolume(Map<String, String> p) throws IOException {
        Zone zone = zones.get(required(p, "zoneid"));
        if (zone == null) {
            throw noEntity("zoneid", p.get("zoneid"));
        }
        Offering o = offerings.get(required(p, "diskofferingid"));
        if (o == null) {
            throw noEntity("diskofferingid", p.get("diskofferingid"));
        }
        long sizeGb;
        if (o.customized()) {
            sizeGb = number(p, "size", -1);
            if (sizeGb < 1) {
                throw new ApiError(431, "This disk offering requires a custom size specified (size >= 1 GB)");
            }
        } else {
            if (p.containsKey("size")) {
                throw new ApiError(431, "This disk offering does not allow custom size");
            }
            sizeGb = o.diskSizeGb();
        }
        String name = p.getOrDefault("name", "");
        String id = newId();
        return newVolume(id, name.isEmpty() ? "DATA-" + id.substring(0, 8) : name, zone.id(), o.id(), sizeGb * GIB,
                "DATADISK");
    }

    Vol newVolume(String id, String name, String zoneId, String offeringId, long sizeBytes, String type)
            throws IOException {
        Path file = volumeDir.resolve(id + ".img");
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(sizeBytes); // sparse: reads as zeros, like a new volume
        }
        Vol v = new Vol(id, name, zoneId, offeringId, sizeBytes, type, file);
        v.state = "Allocated";
        volumes.put(id, v);
        return v;
    }

    // ---- what async jobs do: each returns the job's result

    ObjectNode attach(Vol v, Vm vm, Map<String, String> p) throws IOException {
        if (v.vm != null) {
            throw new ApiError(431, "Please specify a volume that is not attached to any VM.");
        }
        if (!vm.state.equals("Running") && !vm.state.equals("Stopped")) {
            throw new ApiError(431, "Please specify a VM that is either running or stopped.");
        }
        if (vm.zoneId != null && !vm.zoneId.equals(v.zoneId)) {
            throw new ApiError(431, "Please specify a VM that is in the same zone as the volume.");
        }
        long dataDisks = volumes.values().stream().filter(o -> o.vm == vm && o.type.equals("DATADISK")).count();
        if (dataDisks >= dataDiskLimit) {
            throw new ApiError(431, "The specified VM already has the maximum number of data disks (" + dataDiskLimit
                    + ") attached. Please specify another VM.");
        }
        v.deviceId = deviceId(vm, p.containsKey("deviceid") ? (int) number(p, "deviceid", -1) : null);
        v.type = v.deviceId == 0 ? "ROOT" : v.type;
        v.vm = vm;
        v.state = "Ready";
        if (vm.deviceDir != null) {
            plug(v);
        }
        return result("volume", volumeJson(v));
    }

    ObjectNode detach(Vol v) throws IOException {
        if (v.vm == null) {
            throw new ApiError(431, "Please specify a volume that is attached to a VM.");
        }
        if (v.type.equals("ROOT") && !v.vm.state.equals("Stopped")) {
            throw new ApiError(431, "Root volume detach can happen only when vm is in states: Stopped or Destroyed");
        }
        unplug(v);
        v.vm = null;
        v.deviceId = null;
        return result("volume", volumeJson(v));
    }

    ObjectNode setVmState(Vm vm, String from, String to) {
        if (!vm.state.equals(from)) {
            throw new ApiError(431, "VM " + vm.id + " is " + vm.state + ", not " + from);
        }
        vm.state = to;
        return result("virtualmachine", vmJson(vm));
    }

    /** deployVirtualMachine: an instance with a ROOT volume from the template. */
    Vm deploy(Map<String, String> p) throws IOException {
        required(p, "serviceofferingid");
        Template t = templates.get(required(p, "templateid"));
        if (t == null) {
            throw noEntity("templateid", p.get("templateid"));
        }
        Zone zone = zones.get(required(p, "zoneid"));
        if (zone == null) {
            throw noEntity("zoneid", p.get("zoneid"));
        }
        String id = newId();
        String name = p.getOrDefault("name", "VM-" + id);
        Vm vm = new Vm(id, name, zone.id(), "false".equalsIgnoreCase(p.get("startvm")) ? "Stopped" : "Running", null);
        vms.put(id, vm);
        Vol root = newVolume(newId(), "ROOT-" + name, zone.id(), null, t.sizeGb() * GIB, "ROOT");
        root.vm = vm;
        root.deviceId = 0;
        root.state = "Ready";
        return vm;
    }

    /** The loop device and its link under the instance's device dir, as udev would make them. */
    private void plug(Vol v) throws IOException {
        Files.createDirectories(v.vm.deviceDir);
        v.loop = LoopDevices.attach(v.file);
        v.link = v.vm.deviceDir.resolve("virtio-" + VolumeDevices.serial(v.id));
        Files.deleteIfExists(v.link);
        Files.createSymbolicLink(v.link, v.loop);
    }

    void unplug(Vol v) throws IOException {
        if (v.link != null) {
            Files.deleteIfExists(v.link);
            v.link = null;
        }
        if (v.loop != null) {
            Path loop = v.loop;
            v.loop = null;
            LoopDevices.detach(loop);
        }
    }

    /** The device id asked for, or the lowest free one; 0 is the root disk's, 3 the CD-ROM's. */
    private int deviceId(Vm vm, Integer asked) {
        int max = dataDiskLimit + 1;
        Set<Integer> used = new HashSet<>();
        volumes.values().stream().filter(o -> o.vm == vm).forEach(o -> used.add(o.deviceId));
        if (asked != null) {
            if (asked == 0) {
                // CloudStack 4.x attaches a root volume to a stopped VM without one (its checkDeviceId)
                if (!vm.state.equals("Stopped")) {
                    throw new ApiError(431, "Root volume detach can happen only when vm is in states: Stopped or"
                            + " Destroyed");
                }
                if (used.contains(0)) {
                    throw new ApiError(431, "Vm already has root volume attached to it");
                }
                return 0;
            }
            if (asked < 0 || asked > max || asked == CDROM_DEVICE_ID) {
                throw new ApiError(431, "deviceId should be 1,2,4-" + max);
            }
            if (used.contains(asked)) {
                throw new ApiError(431, "deviceId " + asked + " is used by VM " + vm.name);
            }
            return asked;
        }
        for (int id = 1; ; id++) {
            if (id != CDROM_DEVICE_ID && !used.contains(id)) {
                return id;
            }
        }
    }

    Vol volume(Map<String, String> p, String param) {
        Vol v = volumes.get(required(p, param));
        if (v == null) {
            throw noEntity(param, p.get(param));
        }
        return v;
    }

    Vm vm(Map<String, String> p, String param) {
        Vm vm = vms.get(required(p, param));
        if (vm == null) {
            throw noEntity(param, p.get(param));
        }
        return vm;
    }

    static String required(Map<String, String> p, String param) {
        String v = p.get(param);
        if (v == null || v.isEmpty()) {
            throw new ApiError(431, "Unable to execute API command due to missing parameter " + param);
        }
        return v;
    }

    private static long number(Map<String, String> p, String param, long dflt) {
        try {
            return p.containsKey(param) ? Long.parseLong(p.get(param)) : dflt;
        } catch (NumberFormatException e) {
            throw new ApiError(431, "Unable to execute API command due to invalid value. Invalid parameter " + param
                    + " value=" + p.get(param) + " due to incorrect long value format");
        }
    }

    /** CloudStack's words when a UUID parameter names no row. */
    static ApiError noEntity(String param, String value) {
        return new ApiError(431, "Unable to execute API command due to invalid value. Invalid parameter " + param
                + " value=" + value + " due to incorrect long value format, or entity does not exist or due to"
                + " incorrect parameter annotation for the field in api cmd class.");
    }

    ObjectNode volumeJson(Vol v) {
        Zone z = zones.get(v.zoneId);
        Offering o = v.offeringId == null ? null : offerings.get(v.offeringId);
        return json("id", v.id, "name", v.name, "zoneid", v.zoneId, "zonename", z == null ? null : z.name(),
                "type", v.type, "deviceid", v.deviceId, "virtualmachineid", v.vm == null ? null : v.vm.id,
                "vmname", v.vm == null ? null : v.vm.name, "vmstate", v.vm == null ? null : v.vm.state,
                "size", v.sizeBytes, "state", v.state, "diskofferingid", v.offeringId,
                "diskofferingname", o == null ? null : o.name(), "created", v.created.toString());
    }

    ObjectNode vmJson(Vm vm) {
        return json("id", vm.id, "name", vm.name, "displayname", vm.name, "state", vm.state, "zoneid", vm.zoneId);
    }

    static ObjectNode result(String field, ObjectNode value) {
        ObjectNode r = JSON.createObjectNode();
        r.set(field, value);
        return r;
    }

    /** An object of name/value pairs; null values are left out, as CloudStack does. */
    static ObjectNode json(Object... pairs) {
        ObjectNode n = JSON.createObjectNode();
        for (int i = 0; i < pairs.length; i += 2) {
            Object v = pairs[i + 1];
            if (v != null) {
                n.set((String) pairs[i], JSON.valueToTree(v));
            }
        }
        return n;
    }

    List<Vol> plugged() {
        List<Vol> out = new ArrayList<>();
        volumes.values().stream().filter(v -> v.loop != null || v.link != null).forEach(out::add);
        return out;
    }

    @Override
    public String toString() {
        return "CloudModel[" + volumes.size() + " volumes]";
    }
}
