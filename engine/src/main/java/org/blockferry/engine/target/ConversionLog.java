package org.blockferry.engine.target;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What one virt-v2v-in-place run wrote: its status messages (stdout, one JSON object a line with
 * {@code --machine-readable}), and in its debug log (stderr, {@code -v -x}) the inspection result
 * it prints as {@code i_root = /dev/sda1}, {@code i_osinfo = debian12}, ...
 */
final class ConversionLog {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Debug lines can hold a whole package list: an error keeps only the start of each. */
    private static final int LINE_LIMIT = 300;

    /** One status message: {@code type} is message, info, warning or error. */
    record Message(String type, String text) {
    }

    /** The inspection fields virt-v2v printed, by name without the {@code i_} prefix. */
    record Inspection(Map<String, String> fields) {
        String root() {
            return fields.getOrDefault("root", "");
        }

        /** libosinfo's short id (debian12, win2k19) when known, otherwise distribution and version. */
        String operatingSystem() {
            String osinfo = fields.getOrDefault("osinfo", "unknown");
            if (!osinfo.isEmpty() && !osinfo.equals("unknown")) {
                return osinfo;
            }
            return (fields.getOrDefault("distro", "unknown") + " " + fields.getOrDefault("major_version", "")
                    + "." + fields.getOrDefault("minor_version", "")).strip();
        }
    }

    private ConversionLog() {
    }

    static List<Message> messages(Path stdout) throws IOException {
        List<Message> messages = new ArrayList<>();
        if (!Files.exists(stdout)) {
            return messages;
        }
        for (String line : Files.readAllLines(stdout, StandardCharsets.UTF_8)) {
            if (!line.startsWith("{")) {
                continue; // the same message again for people: "[  21.6] Inspecting the source"
            }
            try {
                JsonNode node = JSON.readTree(line);
                messages.add(new Message(node.path("type").asText(), node.path("message").asText()));
            } catch (IOException e) {
                // A line cut by a kill: the messages before it still count.
            }
        }
        return messages;
    }

    /** The first block of {@code i_name = value} lines of the debug log; empty when there is none. */
    static Inspection inspection(Path log) throws IOException {
        Map<String, String> fields = new HashMap<>();
        if (!Files.exists(log)) {
            return new Inspection(fields);
        }
        try (BufferedReader r = Files.newBufferedReader(log, StandardCharsets.ISO_8859_1)) {
            for (String line; (line = r.readLine()) != null; ) {
                int eq = line.indexOf(" = ");
                if (line.startsWith("i_") && eq > 2 && !line.substring(0, eq).contains(" ")) {
                    fields.putIfAbsent(line.substring(2, eq), line.substring(eq + 3).strip());
                } else if (fields.containsKey("root") && !line.startsWith("i_")) {
                    break;
                }
            }
        }
        return new Inspection(fields);
    }

    /** The last {@code count} lines of the debug log, each cut to a readable length. */
    static List<String> tail(Path log, int count) throws IOException {
        Deque<String> last = new ArrayDeque<>();
        if (!Files.exists(log)) {
            return List.of();
        }
        try (BufferedReader r = Files.newBufferedReader(log, StandardCharsets.ISO_8859_1)) {
            for (String line; (line = r.readLine()) != null; ) {
                if (line.isBlank()) {
                    continue;
                }
                last.addLast(line.length() > LINE_LIMIT ? line.substring(0, LINE_LIMIT) + "..." : line);
                if (last.size() > count) {
                    last.removeFirst();
                }
            }
        }
        return List.copyOf(last);
    }
}
