package org.blockferry.engine.source.vmware.vim;

/**
 * One virtual disk of a VM as vCenter describes it; {@code changeId} is null while Changed
 * Block Tracking is off.
 */
public record VirtualDiskInfo(int key, long capacityInBytes, String fileName, String changeId) {
}
