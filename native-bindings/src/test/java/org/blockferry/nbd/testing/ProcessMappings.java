package org.blockferry.nbd.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** This process's memory mappings, from {@code /proc/self/smaps}: where a buffer's memory lives and how it is advised. */
public final class ProcessMappings {
    /** One mapping: its range and its {@code VmFlags} ({@code hg}: advised for huge pages). */
    public record Mapping(long start, long end, List<String> flags) {
    }

    private ProcessMappings() {
    }

    /** The mapping that holds {@code address}, or null. */
    public static Mapping at(long address) throws IOException {
        long start = 0;
        long end = 0;
        for (String line : Files.readAllLines(Path.of("/proc/self/smaps"))) {
            int space = line.indexOf(' ');
            int dash = line.indexOf('-');
            if (dash > 0 && space > dash && line.substring(0, space).matches("[0-9a-f]+-[0-9a-f]+")) {
                start = Long.parseUnsignedLong(line.substring(0, dash), 16);
                end = Long.parseUnsignedLong(line.substring(dash + 1, space), 16);
            } else if (line.startsWith("VmFlags:") && address >= start && address < end) {
                return new Mapping(start, end, List.of(line.substring("VmFlags:".length()).trim().split(" +")));
            }
        }
        return null;
    }
}
