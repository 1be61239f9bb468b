package org.blockferry.api.cli;

import java.util.Locale;
import org.blockferry.engine.endpoint.InvalidInputException;

/** Byte counts for people (1.50 GiB) and byte sizes from people (4M, 4MiB, 4194304). */
final class HumanBytes {
    private static final String[] UNITS = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};

    private HumanBytes() {
    }

    static String format(double bytes) {
        int unit = 0;
        while (Math.abs(bytes) >= 1024 && unit < UNITS.length - 1) {
            bytes /= 1024;
            unit++;
        }
        return unit == 0 ? String.format(Locale.ROOT, "%.0f B", bytes)
                : String.format(Locale.ROOT, "%.2f %s", bytes, UNITS[unit]);
    }

    /** Parses {@code 4194304}, {@code 4M}, {@code 4MiB}, {@code 512k}; names {@code field} when wrong. */
    static long parse(String field, String text) {
        String t = text.trim();
        int i = 0;
        while (i < t.length() && Character.isDigit(t.charAt(i))) {
            i++;
        }
        if (i == 0) {
            throw new InvalidInputException(field, "'" + text + "' is not a size (use bytes, or 4M, 4MiB, 512K)");
        }
        long number;
        try {
            number = Long.parseLong(t.substring(0, i));
        } catch (NumberFormatException e) {
            throw new InvalidInputException(field, "'" + text + "' is too large");
        }
        String suffix = t.substring(i).trim().toLowerCase(Locale.ROOT);
        long factor = switch (suffix) {
            case "", "b" -> 1;
            case "k", "kb", "kib" -> 1L << 10;
            case "m", "mb", "mib" -> 1L << 20;
            case "g", "gb", "gib" -> 1L << 30;
            default -> throw new InvalidInputException(field, "'" + text + "' has an unknown unit '" + suffix
                    + "' (use K, M or G)");
        };
        if (number > Long.MAX_VALUE / factor) {
            throw new InvalidInputException(field, "'" + text + "' is too large");
        }
        return number * factor;
    }
}
