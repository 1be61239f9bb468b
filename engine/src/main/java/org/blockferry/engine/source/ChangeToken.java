package org.blockferry.engine.source;

import java.util.Optional;

/**
 * What a completed sync leaves for the next one, stored with the disk's completion: the change
 * tracking reference ({@code qemu}: the qcow2 bitmap that started recording when the sync began),
 * the disk's size then, and the target it went to. Written as one line an operator can read:
 * {@code qemu:bf-1a2b3c4d-job7;size=4294967296;target=ino:1234}.
 */
public record ChangeToken(String kind, String reference, long capacity, String target) {

    public String format() {
        return kind + ":" + reference + ";size=" + capacity + ";target=" + target;
    }

    /** The token in {@code text}, or empty when it is not one of ours (then it cannot be used). */
    public static Optional<ChangeToken> parse(String text) {
        if (text == null) {
            return Optional.empty();
        }
        String[] parts = text.split(";");
        int colon = parts[0].indexOf(':');
        if (parts.length != 3 || colon <= 0 || !parts[1].startsWith("size=") || !parts[2].startsWith("target=")) {
            return Optional.empty();
        }
        try {
            return Optional.of(new ChangeToken(parts[0].substring(0, colon), parts[0].substring(colon + 1),
                    Long.parseLong(parts[1].substring(5)), parts[2].substring(7)));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }
}
