package org.blockferry.nbd.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The requests a server saw, read from nbdkit's {@code log} filter ({@code --filter=log
 * logfile=FILE}): what was read, written and zeroed, to prove what the client did.
 */
public final class NbdkitLog {
    private static final Pattern REQUEST = Pattern.compile(
            "connection=\\d+ (Read|Write|Zero|Trim|Flush|Extents) id=\\d+(?: offset=0x([0-9a-f]+) count=0x([0-9a-f]+))?");

    /** One request: its kind ({@code Read}, {@code Write}, {@code Zero}, ...) and range. */
    public record Request(String kind, long offset, long count) {
        public long end() {
            return offset + count;
        }

        public boolean overlaps(long from, long to) {
            return offset < to && end() > from;
        }
    }

    private NbdkitLog() {
    }

    public static List<Request> requests(Path logFile) {
        List<Request> out = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(logFile)) {
                Matcher m = REQUEST.matcher(line);
                if (m.find()) {
                    long offset = m.group(2) == null ? 0 : Long.parseLong(m.group(2), 16);
                    long count = m.group(3) == null ? 0 : Long.parseLong(m.group(3), 16);
                    out.add(new Request(m.group(1), offset, count));
                }
            }
        } catch (IOException e) {
            throw new AssertionError("cannot read nbdkit log " + logFile + ": " + e, e);
        }
        return out;
    }

    /** Total bytes of requests of {@code kind}. */
    public static long bytes(List<Request> requests, String kind) {
        return requests.stream().filter(r -> r.kind().equals(kind)).mapToLong(Request::count).sum();
    }
}
