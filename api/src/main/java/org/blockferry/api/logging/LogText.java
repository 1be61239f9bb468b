package org.blockferry.api.logging;

/**
 * Text that goes into a log line, made unable to forge one: a value from a request (a job
 * field, a header, an exception's message) may hold line breaks or terminal escapes, and then
 * would start what looks like another event.
 */
public final class LogText {
    private LogText() {
    }

    /**
     * {@code text} on one line: {@code \n}, {@code \r} and {@code \t} as those two characters,
     * every other control character (U+0000-U+001F, U+007F-U+009F) and the Unicode line and
     * paragraph separators as {@code \\uXXXX}.
     */
    public static String escape(String text) {
        if (text == null || clean(text)) {
            return text;
        }
        StringBuilder out = new StringBuilder(text.length() + 16);
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            switch (c) {
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (unsafe(c)) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        return out.toString();
    }

    /**
     * A stack trace whose every line is indented: a line that starts without white space is
     * always the start of an event, whatever an exception's message holds. Control characters
     * other than the line breaks between frames are escaped.
     */
    public static String indent(String stackTrace) {
        if (stackTrace == null || stackTrace.isEmpty()) {
            return stackTrace;
        }
        StringBuilder out = new StringBuilder(stackTrace.length() + 64);
        boolean lineStart = true;
        for (int i = 0; i < stackTrace.length(); i++) {
            char c = stackTrace.charAt(i);
            if (c == '\n') {
                out.append('\n');
                lineStart = true;
                continue;
            }
            if (lineStart && c != '\t') {
                out.append('\t');
            }
            lineStart = false;
            if (c == '\r') {
                boolean lineEnd = i + 1 < stackTrace.length() && stackTrace.charAt(i + 1) == '\n';
                out.append(lineEnd ? "" : "\\r");
            } else if (c != '\t' && unsafe(c)) {
                out.append(String.format("\\u%04x", (int) c));
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }

    private static boolean clean(String text) {
        for (int i = 0; i < text.length(); i++) {
            if (unsafe(text.charAt(i))) {
                return false;
            }
        }
        return true;
    }

    private static boolean unsafe(char c) {
        return Character.isISOControl(c) || c == '\u2028' || c == '\u2029';
    }
}
