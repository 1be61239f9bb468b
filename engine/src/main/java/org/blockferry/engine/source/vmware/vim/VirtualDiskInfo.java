package org.blockferry.engine.source.vmware.vim;

import java.util.ArrayList;
import java.util.List;

/**
 * One virtual disk of a VM, or of a snapshot's configuration, as vCenter describes it;
 * {@code changeId} is null while Changed Block Tracking is off. {@code parents} are the file
 * names of the delta chain below {@code fileName}, nearest first (empty for a disk that runs on
 * its base file): the last one is the base disk an operator names.
 */
public record VirtualDiskInfo(int key, long capacityInBytes, String fileName, String changeId, List<String> parents) {
    public VirtualDiskInfo {
        parents = List.copyOf(parents);
    }

    public VirtualDiskInfo(int key, long capacityInBytes, String fileName, String changeId) {
        this(key, capacityInBytes, fileName, changeId, List.of());
    }

    /** The base disk's file name: the root of the delta chain. */
    public String baseFileName() {
        return parents.isEmpty() ? fileName : parents.get(parents.size() - 1);
    }

    /** Whether the disk reads a delta file (snapshots were taken of it), not its base file. */
    public boolean isDelta() {
        return !parents.isEmpty();
    }

    /** Every file name of the chain, {@code fileName} first. */
    public List<String> chain() {
        List<String> all = new ArrayList<>(parents.size() + 1);
        all.add(fileName);
        all.addAll(parents);
        return all;
    }
}
