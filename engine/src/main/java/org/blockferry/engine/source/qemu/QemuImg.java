package org.blockferry.engine.source.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.blockferry.engine.endpoint.ChildEnvironment;
import org.blockferry.engine.endpoint.ImageFormat;
import org.blockferry.engine.endpoint.InvalidInputException;

/**
 * The qcow2 image of a {@code qemu} source, through {@code qemu-img}: its size and persistent
 * dirty bitmaps, and adding and removing them. Failures name the operator's field and say what
 * to do: a missing file, an image that is not qcow2, an image another process holds.
 */
public final class QemuImg {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** A persistent dirty bitmap; {@code inUse} means its image was not closed cleanly (inconsistent). */
    public record Bitmap(String name, long granularity, boolean inUse, boolean enabled) {
    }

    /** What {@code qemu-img info} says of the image. */
    public record Info(long virtualSize, List<Bitmap> bitmaps) {
        public Optional<Bitmap> bitmap(String name) {
            return bitmaps.stream().filter(b -> b.name().equals(name)).findFirst();
        }
    }

    private final String program;
    private final String field;
    private final Path image;

    private QemuImg(String program, String field, Path image) {
        this.program = program;
        this.field = field;
        this.image = image;
    }

    /** The qcow2 image at {@code image}; {@code field} names it in errors. */
    public static QemuImg of(String program, String field, Path image) throws IOException {
        if (!Files.exists(image)) {
            throw new InvalidInputException(field, image + " does not exist");
        }
        if (!Files.isRegularFile(image)) {
            throw new InvalidInputException(field, image + " is not a regular file (a qcow2 image is needed)");
        }
        if (ImageFormat.detect(image) != ImageFormat.QCOW2) {
            throw new InvalidInputException(field, image + " is not a qcow2 image (the qemu source kind tracks"
                    + " changes with qcow2 dirty bitmaps; use the nbd kind for raw images)");
        }
        return new QemuImg(program, field, image);
    }

    public Path image() {
        return image;
    }

    /** Size and bitmaps, read without taking the image's lock (works while another process has it). */
    public Info info() throws IOException {
        return parseInfo(run(List.of(program, "info", "--force-share", "--output=json", "-f", "qcow2",
                image.toString())));
    }

    /** What {@code qemu-img info --output=json} printed for a qcow2 image: its size and bitmaps. */
    public static Info parseInfo(String json) throws IOException {
        JsonNode root = JSON.readTree(json);
        List<Bitmap> bitmaps = new ArrayList<>();
        for (JsonNode b : root.path("format-specific").path("data").path("bitmaps")) {
            List<String> flags = new ArrayList<>();
            b.path("flags").forEach(f -> flags.add(f.asText()));
            bitmaps.add(new Bitmap(b.path("name").asText(), b.path("granularity").asLong(), flags.contains("in-use"),
                    flags.contains("auto")));
        }
        return new Info(root.path("virtual-size").asLong(), bitmaps);
    }

    /** Adds an enabled persistent bitmap: from now on it records every write to the image. */
    public void addBitmap(String name) throws IOException {
        run(List.of(program, "bitmap", "--add", "--enable", "-f", "qcow2", image.toString(), name));
    }

    public void removeBitmap(String name) throws IOException {
        run(List.of(program, "bitmap", "--remove", "-f", "qcow2", image.toString(), name));
    }

    private String run(List<String> cmd) throws IOException {
        Process p;
        try {
            p = ChildEnvironment.minimal(new ProcessBuilder(cmd).redirectErrorStream(true)).start();
        } catch (IOException e) {
            throw new IOException("cannot run " + program + " (install it with: apt-get install qemu-utils): "
                    + e.getMessage(), e);
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(program + " " + cmd.get(1) + " on " + image + " did not finish within 60 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new IOException("interrupted while running " + program, e);
        }
        if (p.exitValue() != 0) {
            String message = out.strip().replace('\n', ' ');
            if (message.contains("\"write\" lock") || message.contains("\"read\" lock")) {
                throw new InvalidInputException(field, image + " is locked by another process (a running VM or an"
                        + " NBD export?): stop it, or replicate from its backup export (an NBD URI with a bitmap)");
            }
            throw new InvalidInputException(field, program + " " + cmd.get(1) + " failed on " + image + ": " + message);
        }
        return out;
    }
}
