package org.blockferry.engine;

/**
 * Marks messages, events and snapshots that cross the cluster or go to the journal: bound once
 * to Jackson CBOR in {@code config/reference.conf}.
 */
public interface CborSerializable {
}
