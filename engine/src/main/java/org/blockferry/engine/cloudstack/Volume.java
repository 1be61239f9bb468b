package org.blockferry.engine.cloudstack;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * A CloudStack volume as {@code listVolumes} and async job results report it.
 *
 * @param id               its UUID
 * @param name             its name
 * @param sizeBytes        its size in bytes
 * @param state            {@code Allocated} (never attached yet), {@code Ready}, ...
 * @param virtualMachineId the instance it is attached to, or null when detached
 * @param deviceId         its device number on that instance (0 is the root disk), or null
 * @param type             {@code ROOT} or {@code DATADISK}
 */
public record Volume(String id, String name, long sizeBytes, String state, String virtualMachineId, Integer deviceId,
                     String type) {

    /** Whether it is attached to this instance. */
    public boolean attachedTo(String vmId) {
        return virtualMachineId != null && virtualMachineId.equals(vmId);
    }

    /** Reads one volume object of a reply; CloudStack omits empty fields. */
    static Volume of(JsonNode v) {
        return new Volume(text(v, "id"), text(v, "name"), v.path("size").asLong(0), text(v, "state"),
                text(v, "virtualmachineid"), v.hasNonNull("deviceid") ? v.get("deviceid").asInt() : null, text(v, "type"));
    }

    private static String text(JsonNode v, String field) {
        JsonNode f = v.get(field);
        return f == null || f.isNull() || f.asText().isEmpty() ? null : f.asText();
    }
}
