package org.blockferry.api.cds;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.lang.invoke.LambdaMetafactory;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.Test;
import org.objectweb.asm.Attribute;
import org.objectweb.asm.ByteVector;
import org.objectweb.asm.ClassWriter;
import org.objectweb.asm.Handle;
import org.objectweb.asm.MethodVisitor;
import org.objectweb.asm.Opcodes;
import org.objectweb.asm.Type;

/** The build step that makes a jar's lambdas archivable: which call sites change, and that every lambda still works. */
class PlainLambdasTest {
    private static final String FIXTURES = "org/blockferry/api/cds/LambdaFixtures";
    private final Path dir = TestPeers.scratchDirectory("plain-lambdas-");

    private static byte[] classBytes(String name) throws IOException {
        try (InputStream in = PlainLambdasTest.class.getClassLoader().getResourceAsStream(name + ".class")) {
            return in.readAllBytes();
        }
    }

    /** A jar of the fixtures (the class and its two interfaces) plus {@code extra}. */
    private Path fixtureJar(Map<String, byte[]> extra) throws IOException {
        Map<String, byte[]> entries = new LinkedHashMap<>();
        entries.put("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n".getBytes());
        for (String name : new String[]{FIXTURES, FIXTURES + "$Base", FIXTURES + "$Narrowed"}) {
            entries.put(name + ".class", classBytes(name));
        }
        entries.putAll(extra);
        return TestJars.jar(dir, entries);
    }

    private static Object call(ClassLoader loader, String type, String method) throws Exception {
        Method m = Class.forName(type.replace('/', '.'), true, loader).getMethod(method);
        return m.invoke(null);
    }

    /** The {@link Supplier} {@code type.method()} returns, once it has supplied {@code supplies}. */
    private static Object supplier(ClassLoader loader, String type, String method, String supplies) throws Exception {
        Object supplier = call(loader, type, method);
        assertEquals(supplies, ((Supplier<?>) supplier).get());
        return supplier;
    }

    /**
     * A class {@code gen/NAME} whose {@code make()} returns a lambda of {@code iface} (its method
     * {@code get}, {@code samType}; the lambda returns NAME) from an {@code altMetafactory} call
     * site asking for a serializable lambda with {@code bridges} — what Scala compiles a function
     * literal to; {@code scala}: marked as scalac marks its classes.
     */
    private static byte[] altSite(boolean scala, String name, String iface, String samType, String... bridges) {
        String owner = "gen/" + name;
        ClassWriter w = new ClassWriter(ClassWriter.COMPUTE_MAXS | ClassWriter.COMPUTE_FRAMES);
        w.visit(Opcodes.V17, Opcodes.ACC_PUBLIC | Opcodes.ACC_SUPER, owner, null, "java/lang/Object", null);
        if (scala) {
            w.visitAttribute(new Attribute("ScalaInlineInfo") { // what scalac writes into every class (its content aside)
                @Override
                protected ByteVector write(ClassWriter writer, byte[] code, int length, int maxStack, int maxLocals) {
                    return new ByteVector().putByte(1);
                }
            });
        }
        MethodVisitor impl = w.visitMethod(Opcodes.ACC_PUBLIC | Opcodes.ACC_STATIC, "$anonfun$make$1",
                "()Ljava/lang/String;", null, null);
        impl.visitCode();
        impl.visitLdcInsn(name);
        impl.visitInsn(Opcodes.ARETURN);
        impl.visitMaxs(0, 0);
        impl.visitEnd();
        MethodVisitor make = w.visitMethod(Opcodes.ACC_PUBLIC | Opcodes.ACC_STATIC, "make", "()L" + iface + ";", null, null);
        make.visitCode();
        Handle alt = new Handle(Opcodes.H_INVOKESTATIC, "java/lang/invoke/LambdaMetafactory", "altMetafactory",
                "(Ljava/lang/invoke/MethodHandles$Lookup;Ljava/lang/String;Ljava/lang/invoke/MethodType;"
                        + "[Ljava/lang/Object;)Ljava/lang/invoke/CallSite;", false);
        List<Object> arguments = new ArrayList<>(List.of(Type.getType(samType),
                new Handle(Opcodes.H_INVOKESTATIC, owner, "$anonfun$make$1", "()Ljava/lang/String;", false),
                Type.getType("()Ljava/lang/String;"),
                LambdaMetafactory.FLAG_SERIALIZABLE | LambdaMetafactory.FLAG_BRIDGES, bridges.length));
        for (String bridge : bridges) {
            arguments.add(Type.getType(bridge));
        }
        make.visitInvokeDynamicInsn("get", "()L" + iface + ";", alt, arguments.toArray());
        make.visitInsn(Opcodes.ARETURN);
        make.visitMaxs(0, 0);
        make.visitEnd();
        w.visitEnd();
        return w.toByteArray();
    }

    /** Scala's shape: {@code Supplier.get()Object} with the bridge {@code get()String}, which no interface declares. */
    private static byte[] scalaShaped() {
        return altSite(true, "ScalaShaped", "java/util/function/Supplier", "()Ljava/lang/Object;", "()Ljava/lang/String;");
    }

    @Test
    void serializableAndUncalledBridgeSitesBecomePlainTheOthersStayAndAllStillWork() throws Exception {
        Path jar = fixtureJar(Map.of("gen/ScalaShaped.class", scalaShaped(),
                // a bridge that overrides a method the interface declares (Narrowed's default get()Object)
                "gen/NarrowedShaped.class", altSite(true, "NarrowedShaped", FIXTURES + "$Narrowed",
                        "()Ljava/lang/String;", "()Ljava/lang/Object;"),
                // Scala's shape in a class scalac did not write
                "gen/JavaShaped.class", altSite(false, "JavaShaped", "java/util/function/Supplier",
                        "()Ljava/lang/Object;", "()Ljava/lang/String;")));
        try (URLClassLoader before = new URLClassLoader(new URL[]{jar.toUri().toURL()}, ClassLoader.getPlatformClassLoader())) {
            assertInstanceOf(Serializable.class, call(before, "gen/ScalaShaped", "make"), "as compiled");
            assertInstanceOf(Serializable.class, call(before, FIXTURES, "serializable"), "as compiled");
        }

        // plain: the Scala-shaped one; kept: the one whose bridge an interface declares (javac's
        // classes are not looked at: their serializable lambdas are asked for on purpose)
        assertEquals(new PlainLambdas.Count(1, 1), PlainLambdas.rewrite(jar));

        try (URLClassLoader after = new URLClassLoader(new URL[]{jar.toUri().toURL()}, ClassLoader.getPlatformClassLoader())) {
            assertFalse(supplier(after, "gen/ScalaShaped", "make", "ScalaShaped") instanceof Serializable,
                    "made plain: no longer serializable");
            assertTrue(supplier(after, FIXTURES, "serializable", "serializable") instanceof Serializable,
                    "javac's: as compiled (its checkcast needs it)");
            assertTrue(supplier(after, "gen/JavaShaped", "make", "JavaShaped") instanceof Serializable,
                    "not scalac's: as compiled");
            assertTrue(supplier(after, FIXTURES, "marked", "marked") instanceof Cloneable, "kept: still carries its marker");
            Class<?> base = Class.forName(FIXTURES.replace('/', '.') + "$Base", false, after);
            Object narrowed = call(after, "gen/NarrowedShaped", "make");
            assertTrue(narrowed instanceof Serializable, "kept: as compiled");
            assertEquals("NarrowedShaped", base.getMethod("get").invoke(narrowed), "through the base interface's get()Object");
            Object bridged = call(after, FIXTURES, "bridged");
            assertEquals("bridged", base.getMethod("get").invoke(bridged), "through the base interface's get()Object");
            supplier(after, FIXTURES, "plain", "plain");
        }
    }

    @Test
    void aSecondRunChangesNothing() throws Exception {
        Path jar = fixtureJar(Map.of("gen/ScalaShaped.class", scalaShaped()));
        assertEquals(new PlainLambdas.Count(1, 0), PlainLambdas.survey(jar), "a survey before");
        assertEquals(new PlainLambdas.Count(1, 0), PlainLambdas.rewrite(jar));
        byte[] once = TestJars.entry(jar, "gen/ScalaShaped.class");
        assertEquals(new PlainLambdas.Count(0, 0), PlainLambdas.rewrite(jar), "a second run finds nothing to change");
        assertArrayEquals(once, TestJars.entry(jar, "gen/ScalaShaped.class"));
        assertEquals(new PlainLambdas.Count(0, 0), PlainLambdas.survey(jar), "and a survey agrees");
    }

    @Test
    void aSiteWhoseInterfaceCannotBeLoadedIsKept() throws Exception {
        byte[] scala = scalaShaped();
        // the same call site, but its interface is not on the class path
        byte[] missing = new String(scala, java.nio.charset.StandardCharsets.ISO_8859_1)
                .replace("java/util/function/Supplier", "java/util/function/Nosuchit")
                .getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
        Path jar = TestJars.jar(dir, Map.of("gen/ScalaShaped.class", missing));
        assertEquals(new PlainLambdas.Count(0, 1), PlainLambdas.rewrite(jar));
    }
}
