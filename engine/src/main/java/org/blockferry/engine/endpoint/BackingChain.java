package org.blockferry.engine.endpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The files a qcow2 image makes its NBD server open besides itself: its backing file, that
 * file's backing file, and so on, and any external data file. Each must pass the storage policy
 * like the image; qemu-nbd would otherwise read, for the image, a file the job may not name.
 *
 * <p>The chain is walked one image at a time with {@code qemu-img info} (which does not open
 * backing files), so a file is checked before anything opens it. Only qcow2 and raw links are
 * accepted: other formats (vmdk descriptors, for one) name files of their own.
 */
final class BackingChain {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Deeper chains are refused (qemu's own limit is higher; a migration source never needs this many). */
    static final int MAX_DEPTH = 16;

    private BackingChain() {
    }

    /**
     * What the walk found: the identities of every file of the chain (the image's own included),
     * and what {@code qemu-img info --force-share --output=json -f qcow2} said of the image itself.
     */
    record Walked(Set<Object> openable, String imageInfo) {
    }

    /** Walks {@code image}'s chain; refuses naming {@code field}. */
    static Walked check(StoragePolicy policy, String field, StoragePolicy.Checked image, String qemuImg)
            throws IOException {
        Set<Object> keys = new LinkedHashSet<>(image.openable());
        Set<Path> seen = new HashSet<>(List.of(image.path()));
        Path current = image.path();
        String format = "qcow2";
        String imageInfo = null;
        for (int depth = 0; ; depth++) {
            String text = info(qemuImg, field, image, current, format);
            if (imageInfo == null) {
                imageInfo = text;
            }
            JsonNode info = JSON.readTree(text);
            String actual = info.path("format").asText("");
            if (!actual.equals("qcow2") && !actual.equals("raw")) {
                throw new InvalidInputException(field, "'" + image.requested() + "' has a backing file in format '"
                        + actual + "' (only qcow2 and raw backing files are allowed)");
            }
            String dataFile = info.path("format-specific").path("data").path("data-file").asText(null);
            if (dataFile != null) {
                keys.addAll(member(policy, field, image, current, dataFile, "external data file").openable());
            }
            String backing = info.path("full-backing-filename").asText(info.path("backing-filename").asText(null));
            if (backing == null) {
                return new Walked(keys, imageInfo);
            }
            if (depth + 1 >= MAX_DEPTH) {
                throw new InvalidInputException(field, "'" + image.requested() + "' has a backing chain longer than "
                        + MAX_DEPTH + " images");
            }
            StoragePolicy.Checked next = member(policy, field, image, current, backing, "backing file");
            if (!seen.add(next.path())) {
                throw new InvalidInputException(field, "'" + image.requested() + "' has a backing chain with a loop");
            }
            keys.addAll(next.openable());
            format = info.path("backing-filename-format").asText(null); // null: qemu probes it, as qemu-nbd will
            current = next.path();
        }
    }

    private static StoragePolicy.Checked member(StoragePolicy policy, String field, StoragePolicy.Checked image,
                                                Path of, String name, String what) {
        String subject = "the " + what + " '" + name + "' of '" + image.requested() + "'";
        Path path = Path.of(name);
        if (!name.startsWith("/")) {
            if (name.contains(":")) { // json:{...}, nbd://..., a protocol qemu would open: not a local file
                throw new InvalidInputException(field, subject + " is not a local file");
            }
            path = of.resolveSibling(name); // relative names are relative to the image that names them
        }
        return policy.checkPath(field, subject, path.normalize(), StoragePolicy.Access.READ);
    }

    private static String info(String qemuImg, String field, StoragePolicy.Checked image, Path file, String format)
            throws IOException {
        List<String> cmd = new ArrayList<>(List.of(qemuImg, "info", "--force-share", "--output=json"));
        if (format != null) {
            cmd.addAll(List.of("-f", format));
        }
        cmd.add(file.toString());
        Process p;
        try {
            p = ChildEnvironment.minimal(new ProcessBuilder(cmd).redirectErrorStream(true)).start();
        } catch (IOException e) {
            throw new IOException("cannot run " + qemuImg + " (install it with: apt-get install qemu-utils): "
                    + e.getMessage(), e);
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(qemuImg + " info on " + file + " did not finish within 60 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new IOException("interrupted while running " + qemuImg, e);
        }
        if (p.exitValue() != 0) {
            throw new InvalidInputException(field, "cannot read the image chain of '" + image.requested() + "': "
                    + out.strip().replace('\n', ' '));
        }
        return out;
    }
}
