package org.blockferry.api.node;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The requests nbdkit's log filter saw on a target: when, on which connection, what. */
record TargetLog(List<Line> lines) {

    /** {@code what}: Connect, Write, Zero, Flush, ... */
    record Line(LocalDateTime at, int connection, String what) {
    }

    private static final Pattern LINE = Pattern.compile(
            "^(\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{6}) connection=(\\d+) (\\w+)");
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSSSSS");

    static TargetLog read(Path file) throws IOException {
        List<Line> out = new ArrayList<>();
        for (String l : Files.readAllLines(file)) {
            Matcher m = LINE.matcher(l);
            if (m.find()) {
                out.add(new Line(LocalDateTime.parse(m.group(1), TIME), Integer.parseInt(m.group(2)), m.group(3)));
            }
        }
        return new TargetLog(out);
    }

    /** Connections opened before {@code t}. */
    List<Integer> connectedBefore(LocalDateTime t) {
        return lines.stream().filter(l -> l.what().equals("Connect") && l.at().isBefore(t)).map(Line::connection)
                .distinct().toList();
    }

    /** Writes and zeroes: what changes the target. */
    List<Line> writes() {
        return lines.stream().filter(l -> l.what().equals("Write") || l.what().equals("Zero")
                || l.what().equals("Trim")).toList();
    }

    List<Line> connects() {
        return lines.stream().filter(l -> l.what().equals("Connect")).toList();
    }
}
