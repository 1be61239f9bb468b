package org.blockferry.engine.job;

import java.util.regex.Pattern;
import org.blockferry.engine.endpoint.InvalidInputException;

/**
 * A whole-VM job's {@code target_template}: the target of each disk of the VM, with
 * {@code {vm}} (the VM's name: the last element of {@code source.vm}) and {@code {disk_key}}
 * (the disk's device key) filled in, e.g. {@code /data/{vm}-{disk_key}.img} or
 * {@code nbd://host:10809/{vm}-{disk_key}}. Every refusal names {@value #FIELD}.
 *
 * <p>{@code {vm}} comes from the operator's inventory path and may hold anything: outside
 * {@code [A-Za-z0-9._-]} each character becomes {@code _}, and a name that would be
 * {@code .}, {@code ..} or empty is refused. An expanded target is checked as a target given by
 * hand ({@link JobSpec#checkTarget}); the node's storage policy checks it after that.
 */
public final class TargetTemplate {
    public static final String FIELD = "target_template";
    private static final String VM = "{vm}";
    private static final String DISK_KEY = "{disk_key}";
    /** What a name taken from a VM may not hold in a target's name: each such character becomes {@code _}. */
    static final Pattern UNSAFE = Pattern.compile("[^A-Za-z0-9._-]");

    private final String text;
    private final String vmName;

    private TargetTemplate(String text, String vmName) {
        this.text = text;
        this.vmName = vmName;
    }

    /**
     * The template {@code text} for the VM at {@code inventoryPath}: its placeholders checked
     * ({@code {disk_key}} required, {@code {vm}} allowed, nothing else in braces), and the VM's
     * name when the template uses it.
     */
    public static TargetTemplate of(String text, String inventoryPath) {
        if (text == null || text.isBlank()) {
            throw new InvalidInputException(FIELD, "is empty; give the target of each disk with {disk_key} (and"
                    + " optionally {vm}), e.g. /data/{vm}-{disk_key}.img");
        }
        boolean usesVm = false;
        boolean usesKey = false;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '}') {
                throw new InvalidInputException(FIELD, "has a '}' without its '{' at position " + i
                        + " (placeholders: {vm}, {disk_key})");
            }
            if (c != '{') {
                continue;
            }
            int end = text.indexOf('}', i);
            if (end < 0) {
                throw new InvalidInputException(FIELD, "has a '{' without its '}' at position " + i
                        + " (placeholders: {vm}, {disk_key})");
            }
            String placeholder = text.substring(i, end + 1);
            switch (placeholder) {
                case VM -> usesVm = true;
                case DISK_KEY -> usesKey = true;
                default -> throw new InvalidInputException(FIELD, "'" + placeholder + "' is not a placeholder"
                        + " (allowed: {vm}, the VM's name; {disk_key}, the disk's device key)");
            }
            i = end;
        }
        if (!usesKey) {
            throw new InvalidInputException(FIELD, "'" + text + "' has no {disk_key}: every disk of the VM would get"
                    + " the same target");
        }
        return new TargetTemplate(text, usesVm ? vmName(inventoryPath) : null);
    }

    /**
     * What {@code {vm}} stands for: the last element of the inventory path, each character
     * outside {@code [A-Za-z0-9._-]} replaced by {@code _}; refused when it cannot name a file.
     */
    static String vmName(String inventoryPath) {
        String last = inventoryPath.substring(inventoryPath.lastIndexOf('/') + 1);
        String name = UNSAFE.matcher(last).replaceAll("_");
        if (name.isEmpty() || name.equals(".") || name.equals("..")) {
            throw new InvalidInputException(FIELD, "{vm} would be '" + name + "' (the last element of source.vm '"
                    + inventoryPath + "'), which cannot name a target; leave {vm} out of the template for this VM");
        }
        return name;
    }

    /** The target of the disk with device key {@code diskKey}, checked as a target given by hand. */
    public String expand(int diskKey) {
        String target = text.replace(DISK_KEY, String.valueOf(diskKey));
        if (vmName != null) {
            target = target.replace(VM, vmName); // no brace in a name: nothing it holds is replaced again
        }
        if (target.length() > JobSpecReader.MAX_STRING) {
            throw new InvalidInputException(FIELD, "expands to a target of " + target.length() + " characters for"
                    + " disk " + diskKey + "; at most " + JobSpecReader.MAX_STRING);
        }
        JobSpec.checkTarget(FIELD, target);
        return target;
    }

    @Override
    public String toString() {
        return text;
    }
}
