package org.blockferry.api.cds;

import java.io.IOException;
import java.lang.invoke.LambdaMetafactory;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.objectweb.asm.ClassReader;
import org.objectweb.asm.ClassVisitor;
import org.objectweb.asm.ClassWriter;
import org.objectweb.asm.Handle;
import org.objectweb.asm.MethodVisitor;
import org.objectweb.asm.Opcodes;
import org.objectweb.asm.Type;

/**
 * A build step (run by Maven on the shaded jar, {@code package} phase, after
 * {@link ClassFileUpgrade}): turns the lambda call sites scalac wrote into the jar's classes —
 * {@code LambdaMetafactory.altMetafactory}, asking for a serializable lambda and for bridge
 * methods no interface declares — into plain {@code LambdaMetafactory.metafactory} call sites.
 *
 * <p>Why: this JDK's class-data archive holds a lambda's class only when its call site asks for
 * neither serializability, marker interfaces nor bridges. Scala compiles every function literal
 * as a serializable lambda with a bridge, so the ~1,700 lambdas Pekko, Slick and Scala link while
 * a node starts were generated again at every start (bytecode spun, a hidden class defined and
 * linked each). Plain, they come from the archive (figures in bench/README.md).
 *
 * <p>What changes for the rewritten lambdas: they are no longer {@link java.io.Serializable} and
 * have no {@code writeReplace}. Scala makes every function serializable whether or not anyone
 * serializes it, and BlockFerry never serializes a function (Pekko's Java serialization is off;
 * messages go through Jackson and protobuf). Java code asks for a serializable lambda only on
 * purpose (an intersection cast, checked by a {@code checkcast} right after the call site), so
 * classes javac compiled are left alone. A Scala call site is left as it is when it asks for
 * marker interfaces, or when a bridge's signature is a method of the functional interface or one
 * of its superinterfaces (then the bridge is what a caller reaches, or it overrides a default
 * method) — or when that interface cannot be loaded.
 */
public final class PlainLambdas {
    private static final String LMF = Type.getInternalName(LambdaMetafactory.class);
    private static final Handle METAFACTORY = new Handle(Opcodes.H_INVOKESTATIC, LMF, "metafactory",
            "(Ljava/lang/invoke/MethodHandles$Lookup;Ljava/lang/String;Ljava/lang/invoke/MethodType;"
                    + "Ljava/lang/invoke/MethodType;Ljava/lang/invoke/MethodHandle;Ljava/lang/invoke/MethodType;)"
                    + "Ljava/lang/invoke/CallSite;", false);
    private static final byte[] ALT_METAFACTORY = "altMetafactory".getBytes(StandardCharsets.UTF_8);
    /** The attributes scalac writes into every class it compiles (2.12 and 2.13; Scala 3's TASTy). */
    private static final List<byte[]> SCALA_ATTRIBUTES = List.of("ScalaInlineInfo".getBytes(StandardCharsets.UTF_8),
            "ScalaSig".getBytes(StandardCharsets.UTF_8), "TASTY".getBytes(StandardCharsets.UTF_8));

    /** What a rewrite did: call sites made plain, and those left as they were. */
    public record Count(int plain, int kept) {
    }

    private PlainLambdas() {
    }

    /** {@code PlainLambdas JAR}: the jar, rewritten in place; prints what it changed. */
    public static void main(String[] args) throws Exception {
        Path jar = JarRewrite.onlyJar(args, "PlainLambdas");
        Count count = rewrite(jar);
        System.out.println("[plain-lambdas] " + jar.getFileName() + ": " + count.plain()
                + " lambda call sites made archivable, " + count.kept() + " kept as they were");
    }

    /** Rewrites {@code jar} in place (untouched when no call site changes). */
    public static Count rewrite(Path jar) throws IOException {
        Path out = jar.resolveSibling(jar.getFileName() + ".lambdas");
        Count count;
        try (URLClassLoader types = loader(jar)) {
            Sites sites = new Sites(types);
            JarRewrite.copy(jar, out, (name, bytes) -> name.endsWith(".class") && candidate(bytes)
                    ? sites.rewrite(bytes) : bytes);
            count = sites.count();
        }
        if (count.plain() == 0) {
            Files.delete(out);
        } else {
            Files.move(out, jar, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        }
        return count;
    }

    /** What {@link #rewrite(Path)} would change in {@code jar} (plain: none once it ran), without writing. */
    public static Count survey(Path jar) throws IOException {
        try (URLClassLoader types = loader(jar); ZipFile zip = new ZipFile(jar.toFile())) {
            Sites sites = new Sites(types);
            for (ZipEntry entry : java.util.Collections.list(zip.entries())) {
                if (entry.getName().endsWith(".class")) {
                    byte[] bytes = zip.getInputStream(entry).readAllBytes();
                    if (candidate(bytes)) {
                        sites.rewrite(bytes);
                    }
                }
            }
            return sites.count();
        }
    }

    /** The jar's classes (functional interfaces among them) over the JDK's, none initialized. */
    private static URLClassLoader loader(Path jar) throws IOException {
        return new URLClassLoader(new URL[]{jar.toUri().toURL()}, ClassLoader.getPlatformClassLoader());
    }

    /**
     * The rewriting of one class at a time, with what it learned of interfaces kept for the next,
     * and the call sites it made plain and kept so far.
     */
    private static final class Sites {
        private final ClassLoader types;
        private final Map<String, Map<String, Boolean>> declared = new HashMap<>();
        private int plain;
        private int kept;

        Sites(ClassLoader types) {
            this.types = types;
        }

        Count count() {
            return new Count(plain, kept);
        }

        /** One class's bytes with its convertible call sites made plain (the same array when none is). */
        byte[] rewrite(byte[] classFile) {
            int plainBefore = plain;
            ClassReader reader = new ClassReader(classFile);
            ClassWriter writer = new ClassWriter(reader, 0);
            reader.accept(new ClassVisitor(Opcodes.ASM9, writer) {
                @Override
                public MethodVisitor visitMethod(int access, String name, String descriptor, String signature,
                                                 String[] exceptions) {
                    return new MethodVisitor(Opcodes.ASM9, super.visitMethod(access, name, descriptor, signature,
                            exceptions)) {
                        @Override
                        public void visitInvokeDynamicInsn(String method, String type, Handle bootstrap,
                                                           Object... arguments) {
                            if (isAltMetafactory(bootstrap)) {
                                if (convertible(method, type, arguments)) {
                                    plain++;
                                    super.visitInvokeDynamicInsn(method, type, METAFACTORY,
                                            arguments[0], arguments[1], arguments[2]);
                                    return;
                                }
                                kept++;
                            }
                            super.visitInvokeDynamicInsn(method, type, bootstrap, arguments);
                        }
                    };
                }
            }, 0);
            return plain == plainBefore ? classFile : writer.toByteArray();
        }

        private static boolean isAltMetafactory(Handle bootstrap) {
            return bootstrap.getTag() == Opcodes.H_INVOKESTATIC && bootstrap.getOwner().equals(LMF)
                    && bootstrap.getName().equals("altMetafactory");
        }

        /**
         * {@code altMetafactory}'s static arguments: sam type, implementation, instantiated type,
         * flags, then (with FLAG_MARKERS) a count and the markers, then (with FLAG_BRIDGES) a count and
         * the bridges.
         */
        private boolean convertible(String method, String callSiteType, Object[] arguments) {
            if (arguments.length < 4 || !(arguments[3] instanceof Integer flags)) {
                return false;
            }
            int known = LambdaMetafactory.FLAG_SERIALIZABLE | LambdaMetafactory.FLAG_MARKERS
                    | LambdaMetafactory.FLAG_BRIDGES;
            if ((flags & ~known) != 0) {
                return false;
            }
            int next = 4;
            if ((flags & LambdaMetafactory.FLAG_MARKERS) != 0) {
                if (!(arguments[next] instanceof Integer markers) || markers != 0) {
                    return false;
                }
                next++;
            }
            if ((flags & LambdaMetafactory.FLAG_BRIDGES) == 0) {
                return next == arguments.length;
            }
            if (!(arguments[next] instanceof Integer bridges) || next + 1 + bridges != arguments.length) {
                return false;
            }
            String iface = Type.getMethodType(callSiteType).getReturnType().getInternalName();
            for (int i = next + 1; i < arguments.length; i++) {
                if (!(arguments[i] instanceof Type bridge) || declares(iface, method, bridge.getDescriptor())) {
                    return false;
                }
            }
            return true;
        }

        /**
         * Whether {@code iface} or a superinterface has a method {@code name} with {@code descriptor}
         * (true also when the interface cannot be loaded: then nothing is known, so nothing changes).
         */
        private boolean declares(String iface, String name, String descriptor) {
            Map<String, Boolean> methods = declared.computeIfAbsent(iface, k -> new HashMap<>());
            return methods.computeIfAbsent(name + descriptor, k -> {
                try {
                    return declares(Class.forName(iface.replace('/', '.'), false, types), name, descriptor);
                } catch (ClassNotFoundException | LinkageError e) {
                    return true;
                }
            });
        }

        private static boolean declares(Class<?> type, String name, String descriptor) {
            for (Method m : type.getDeclaredMethods()) {
                if (m.getName().equals(name) && Type.getMethodDescriptor(m).equals(descriptor)) {
                    return true;
                }
            }
            for (Class<?> parent : type.getInterfaces()) {
                if (declares(parent, name, descriptor)) {
                    return true;
                }
            }
            return false;
        }
    }

    /** A class compiled by scalac that has an {@code altMetafactory} call site. */
    private static boolean candidate(byte[] classFile) {
        return contains(classFile, ALT_METAFACTORY) && SCALA_ATTRIBUTES.stream().anyMatch(a -> contains(classFile, a));
    }

    private static boolean contains(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i <= haystack.length - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return true;
        }
        return false;
    }
}
