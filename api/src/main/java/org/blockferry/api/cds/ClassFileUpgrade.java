package org.blockferry.api.cds;

import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.objectweb.asm.ClassReader;
import org.objectweb.asm.ClassVisitor;
import org.objectweb.asm.ClassWriter;
import org.objectweb.asm.Opcodes;

/**
 * A build step (run by Maven on the shaded jar, {@code package} phase): raises the class files of
 * the jar that are older than Java 6 (class version 49: picocli, ASM, jnr-x86asm, parts of jnr)
 * to Java 8, with the stack map frames such class files must carry.
 *
 * <p>Why: this JDK's class-data archive leaves out classes older than version 50, so those ~460
 * classes were parsed and verified from the jar at every start — picocli's command line, and the
 * bytecode generator the libnbd binding runs at start-up. Raised, they come from the archive:
 * about 40 ms and 0.1 s of CPU less per command on the 2-core benchmark machine (bench/README.md).
 *
 * <p>Nothing else changes: the instructions are the same; only the version and the computed frames
 * are new. The result is proved before it replaces the jar: a JVM loads and verifies every raised
 * class (a class-data dump of them), and any class it refuses fails the build, named.
 */
public final class ClassFileUpgrade {
    /** The oldest class version the archive takes (Java 6). */
    public static final int FIRST_ARCHIVABLE = Opcodes.V1_6;
    /** What old classes become: Java 8, which must carry frames and is verified by the type checker only. */
    static final int RAISED_TO = Opcodes.V1_8;

    private ClassFileUpgrade() {
    }

    /** {@code ClassFileUpgrade JAR}: the jar, rewritten in place; prints what it raised. */
    public static void main(String[] args) throws Exception {
        Path jar = JarRewrite.onlyJar(args, "ClassFileUpgrade");
        List<String> raised = upgrade(jar);
        System.out.println("[class-file-upgrade] " + jar.getFileName() + ": " + raised.size()
                + " class files raised to Java 8 (archivable), all verified");
    }

    /**
     * Rewrites {@code jar} in place with its old class files raised, once each verified; returns
     * their names (none: the jar is left untouched).
     */
    public static List<String> upgrade(Path jar) throws IOException, InterruptedException {
        Path out = jar.resolveSibling(jar.getFileName() + ".upgrading");
        List<String> raised = new ArrayList<>();
        try (URLClassLoader types = new URLClassLoader(new URL[]{jar.toUri().toURL()},
                ClassLoader.getPlatformClassLoader())) {
            JarRewrite.copy(jar, out, (name, bytes) -> {
                if (!name.endsWith(".class") || version(bytes) >= FIRST_ARCHIVABLE) {
                    return bytes;
                }
                raised.add(name.substring(0, name.length() - ".class".length()));
                return raise(bytes, types, name);
            });
        }
        if (raised.isEmpty()) {
            Files.delete(out);
            return raised;
        }
        try {
            verify(out, raised);
        } catch (IOException | RuntimeException | InterruptedException e) {
            Files.deleteIfExists(out);
            throw e;
        }
        Files.move(out, jar, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return raised;
    }

    /** A class file's major version (0 if it is too short to say). */
    public static int version(byte[] classFile) {
        return classFile.length < 8 ? 0 : ((classFile[6] & 0xff) << 8) | (classFile[7] & 0xff);
    }

    /** One class file at {@link #RAISED_TO}, its frames computed with {@code types} for common supertypes. */
    static byte[] raise(byte[] classFile, ClassLoader types, String name) {
        ClassWriter writer = new ClassWriter(ClassWriter.COMPUTE_FRAMES) {
            @Override
            protected ClassLoader getClassLoader() {
                return types;
            }
        };
        try {
            new ClassReader(classFile).accept(new ClassVisitor(Opcodes.ASM9, writer) {
                @Override
                public void visit(int version, int access, String className, String signature, String superName,
                                  String[] interfaces) {
                    super.visit(RAISED_TO, access, className, signature, superName, interfaces);
                }
            }, 0);
            return writer.toByteArray();
        } catch (RuntimeException e) {
            // e.g. JSR/RET, which a Java 8 class file may not contain
            throw new IllegalStateException("cannot raise " + name + " to Java 8: " + e, e);
        }
    }

    /**
     * Every raised class loaded and verified by a JVM of this JDK: a class-data dump of just those
     * classes, which links each one and reports any it cannot verify.
     */
    static void verify(Path jar, List<String> classes) throws IOException, InterruptedException {
        Path list = Files.createTempFile(jar.getParent(), "raised", ".classlist");
        Path archive = jar.resolveSibling(jar.getFileName() + ".verify.jsa");
        try {
            Files.write(list, classes, StandardCharsets.UTF_8);
            Path java = Path.of(System.getProperty("java.home"), "bin", "java");
            Process p = new ProcessBuilder(java.toString(), "-Xshare:dump", "-XX:SharedClassListFile=" + list,
                    "-XX:SharedArchiveFile=" + archive, "-Xlog:cds=warning", "-cp", jar.toString())
                    .redirectErrorStream(true).start();
            String output;
            try (InputStream o = p.getInputStream()) {
                output = new String(o.readAllBytes(), StandardCharsets.UTF_8);
            }
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException("verifying the raised classes took over 120 s");
            }
            List<String> refused = output.lines()
                    .filter(l -> l.contains("Verification failed") || l.contains("Failed verification")
                            || l.contains("Preload Warning"))
                    .toList();
            if (p.exitValue() != 0 || !refused.isEmpty()) {
                throw new IllegalStateException("the JVM refused raised class files (exit " + p.exitValue() + "):\n"
                        + String.join("\n", refused.isEmpty() ? output.lines().limit(40).toList() : refused));
            }
        } finally {
            Files.deleteIfExists(list);
            Files.deleteIfExists(archive);
        }
    }
}
