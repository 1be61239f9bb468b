package org.blockferry.api.cds;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.Test;
import org.objectweb.asm.ClassWriter;
import org.objectweb.asm.Label;
import org.objectweb.asm.MethodVisitor;
import org.objectweb.asm.Opcodes;

/** The build step that makes a jar's pre-Java-6 classes archivable: same behaviour, newer class files, proved. */
class ClassFileUpgradeTest {
    private final Path dir = TestPeers.scratchDirectory("class-upgrade-");

    /**
     * A Java 5 class file (no frames) whose one method needs every kind of frame: a loop, an
     * exception handler, and two branches that merge an ArrayList with a LinkedList (their
     * common supertype must be looked up). {@code f(n)} = 0+1+...+(n-1), -1 for a negative n,
     * plus 100 if n > 5.
     */
    private static byte[] oldClass(String name, boolean withJsr) {
        return classWithF(name, Opcodes.V1_5, m -> sumBody(m, withJsr));
    }

    /** A class file {@code name} of {@code version} with one method, {@code static int f(int)}, of {@code body}. */
    private static byte[] classWithF(String name, int version, java.util.function.Consumer<MethodVisitor> body) {
        ClassWriter w = new ClassWriter(ClassWriter.COMPUTE_MAXS); // no frames: only what the writer is told
        w.visit(version, Opcodes.ACC_PUBLIC | Opcodes.ACC_SUPER, name, null, "java/lang/Object", null);
        MethodVisitor m = w.visitMethod(Opcodes.ACC_PUBLIC | Opcodes.ACC_STATIC, "f", "(I)I", null, null);
        m.visitCode();
        body.accept(m);
        m.visitMaxs(0, 0);
        m.visitEnd();
        w.visitEnd();
        return w.toByteArray();
    }

    private static void sumBody(MethodVisitor m, boolean withJsr) {
        Label tryStart = new Label();
        Label tryEnd = new Label();
        Label handler = new Label();
        Label afterTry = new Label();
        m.visitTryCatchBlock(tryStart, tryEnd, handler, "java/lang/RuntimeException");
        m.visitInsn(Opcodes.ICONST_0);
        m.visitVarInsn(Opcodes.ISTORE, 1); // s
        m.visitInsn(Opcodes.ICONST_0);
        m.visitVarInsn(Opcodes.ISTORE, 2); // i
        Label loop = new Label();
        Label loopEnd = new Label();
        m.visitLabel(loop);
        m.visitVarInsn(Opcodes.ILOAD, 2);
        m.visitVarInsn(Opcodes.ILOAD, 0);
        m.visitJumpInsn(Opcodes.IF_ICMPGE, loopEnd);
        m.visitVarInsn(Opcodes.ILOAD, 1);
        m.visitVarInsn(Opcodes.ILOAD, 2);
        m.visitInsn(Opcodes.IADD);
        m.visitVarInsn(Opcodes.ISTORE, 1);
        m.visitIincInsn(2, 1);
        m.visitJumpInsn(Opcodes.GOTO, loop);
        m.visitLabel(loopEnd);
        m.visitLabel(tryStart);
        m.visitVarInsn(Opcodes.ILOAD, 0);
        m.visitJumpInsn(Opcodes.IFGE, tryEnd);
        m.visitTypeInsn(Opcodes.NEW, "java/lang/IllegalArgumentException");
        m.visitInsn(Opcodes.DUP);
        m.visitMethodInsn(Opcodes.INVOKESPECIAL, "java/lang/IllegalArgumentException", "<init>", "()V", false);
        m.visitInsn(Opcodes.ATHROW);
        m.visitLabel(tryEnd);
        m.visitJumpInsn(Opcodes.GOTO, afterTry);
        m.visitLabel(handler);
        m.visitInsn(Opcodes.POP);
        m.visitInsn(Opcodes.ICONST_M1);
        m.visitVarInsn(Opcodes.ISTORE, 1);
        m.visitLabel(afterTry);
        if (withJsr) {
            Label sub = new Label();
            Label past = new Label();
            m.visitJumpInsn(Opcodes.JSR, sub);
            m.visitJumpInsn(Opcodes.GOTO, past);
            m.visitLabel(sub);
            m.visitVarInsn(Opcodes.ASTORE, 4);
            m.visitVarInsn(Opcodes.RET, 4);
            m.visitLabel(past);
        }
        Label small = new Label();
        Label merged = new Label();
        m.visitVarInsn(Opcodes.ILOAD, 0);
        m.visitIntInsn(Opcodes.BIPUSH, 5);
        m.visitJumpInsn(Opcodes.IF_ICMPLE, small);
        m.visitTypeInsn(Opcodes.NEW, "java/util/ArrayList");
        m.visitInsn(Opcodes.DUP);
        m.visitMethodInsn(Opcodes.INVOKESPECIAL, "java/util/ArrayList", "<init>", "()V", false);
        m.visitJumpInsn(Opcodes.GOTO, merged);
        m.visitLabel(small);
        m.visitTypeInsn(Opcodes.NEW, "java/util/LinkedList");
        m.visitInsn(Opcodes.DUP);
        m.visitMethodInsn(Opcodes.INVOKESPECIAL, "java/util/LinkedList", "<init>", "()V", false);
        m.visitLabel(merged);
        // the merged value is used as an AbstractList (the common supertype the frame must name)
        m.visitMethodInsn(Opcodes.INVOKEVIRTUAL, "java/util/AbstractList", "getClass", "()Ljava/lang/Class;", false);
        m.visitLdcInsn(org.objectweb.asm.Type.getType("Ljava/util/ArrayList;"));
        Label notList = new Label();
        m.visitJumpInsn(Opcodes.IF_ACMPNE, notList);
        m.visitVarInsn(Opcodes.ILOAD, 1);
        m.visitIntInsn(Opcodes.BIPUSH, 100);
        m.visitInsn(Opcodes.IADD);
        m.visitInsn(Opcodes.IRETURN);
        m.visitLabel(notList);
        m.visitVarInsn(Opcodes.ILOAD, 1);
        m.visitInsn(Opcodes.IRETURN);
    }

    private Path jar(Map<String, byte[]> entries) throws IOException {
        return TestJars.jar(dir, entries);
    }

    private static byte[] entry(Path jar, String name) throws IOException {
        return TestJars.entry(jar, name);
    }

    private static int call(Path jar, String className, int n) throws Exception {
        try (URLClassLoader loader = new URLClassLoader(new URL[]{jar.toUri().toURL()}, null)) {
            return (int) Class.forName(className, true, loader).getMethod("f", int.class).invoke(null, n);
        }
    }

    @Test
    void oldClassesAreRaisedToJava8AndBehaveTheSame() throws Exception {
        Path jar = jar(new java.util.LinkedHashMap<>(Map.of(
                "META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n".getBytes(),
                "old/Sum.class", oldClass("old/Sum", false))));
        int[] before = {call(jar, "old.Sum", 4), call(jar, "old.Sum", -3), call(jar, "old.Sum", 10)};
        assertArrayEquals(new int[]{6, -1, 145}, before, "the old class as it was");

        List<String> raised = ClassFileUpgrade.upgrade(jar);

        assertEquals(List.of("old/Sum"), raised);
        assertEquals(52, ClassFileUpgrade.version(entry(jar, "old/Sum.class")), "Java 8 class file");
        assertEquals("Manifest-Version: 1.0\n", new String(entry(jar, "META-INF/MANIFEST.MF")), "other entries kept");
        // a Java 8 class is checked by the type-checking verifier only: loading it proves its frames
        assertArrayEquals(before, new int[]{call(jar, "old.Sum", 4), call(jar, "old.Sum", -3), call(jar, "old.Sum", 10)});
        assertEquals(List.of(), ClassFileUpgrade.upgrade(jar), "nothing left to raise the second time");
        assertTrue(Files.list(dir).noneMatch(p -> p.getFileName().toString().contains(".upgrading")), "no temporary left");
    }

    @Test
    void aClassThatCannotBeRaisedFailsTheBuildAndLeavesTheJar() throws Exception {
        Path jar = jar(Map.of("old/Jsr.class", oldClass("old/Jsr", true)));
        byte[] before = Files.readAllBytes(jar);

        IllegalStateException e = assertThrows(IllegalStateException.class, () -> ClassFileUpgrade.upgrade(jar));

        assertTrue(e.getMessage().contains("old/Jsr.class"), e.getMessage());
        assertArrayEquals(before, Files.readAllBytes(jar), "the jar is untouched");
        assertTrue(Files.list(dir).noneMatch(p -> p.getFileName().toString().contains(".upgrading")), "no temporary left");
    }

    @Test
    void aRaisedClassTheJvmRefusesFailsTheBuildNamingIt() throws Exception {
        // a Java 8 class file whose method has no frames at a branch target: what a wrong
        // rewrite would produce; the verification step must catch it, not the first start
        byte[] noFrames = classWithF("bad/NoFrames", Opcodes.V1_8, m -> {
            Label l = new Label();
            m.visitVarInsn(Opcodes.ILOAD, 0);
            m.visitJumpInsn(Opcodes.IFGE, l);
            m.visitInsn(Opcodes.ICONST_M1);
            m.visitInsn(Opcodes.IRETURN);
            m.visitLabel(l);
            m.visitVarInsn(Opcodes.ILOAD, 0);
            m.visitInsn(Opcodes.IRETURN);
        });
        Path jar = jar(Map.of("bad/NoFrames.class", noFrames));

        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> ClassFileUpgrade.verify(jar, List.of("bad/NoFrames")));

        assertTrue(e.getMessage().contains("bad.NoFrames") || e.getMessage().contains("bad/NoFrames"), e.getMessage());
    }
}
