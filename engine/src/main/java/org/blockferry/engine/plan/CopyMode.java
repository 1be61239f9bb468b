package org.blockferry.engine.plan;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/** What a run of a disk moves: everything, the changes since the last run, or whichever applies. */
public enum CopyMode {
    FULL, INCREMENTAL, AUTO;

    @JsonValue
    public String json() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses {@code full | incremental | auto}; anything else names the field. */
    @JsonCreator
    public static CopyMode parse(String text) {
        for (CopyMode m : values()) {
            if (m.json().equalsIgnoreCase(text)) {
                return m;
            }
        }
        throw new org.blockferry.engine.endpoint.InvalidInputException("mode",
                "'" + text + "' is not a mode (full, incremental or auto)");
    }
}
