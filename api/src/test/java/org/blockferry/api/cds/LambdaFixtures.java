package org.blockferry.api.cds;

import java.io.Serializable;
import java.util.function.Supplier;

/**
 * Lambdas as javac compiles them, for {@link PlainLambdasTest}: each kind of call site the build
 * step meets. Only {@code java.*} types, so that a test can load these classes from a jar alone.
 */
public final class LambdaFixtures {
    private LambdaFixtures() {
    }

    /** A generic interface ... */
    public interface Base<T> {
        T get();
    }

    /** ... and one that narrows it (javac gives it a default {@code get()Object} that calls {@code get()String}). */
    public interface Narrowed extends Base<String> {
        @Override
        String get();
    }

    /** {@code altMetafactory}, serializable (and a {@code checkcast} to it): javac's, so left alone. */
    public static Supplier<String> serializable() {
        return (Supplier<String> & Serializable) () -> "serializable";
    }

    /** {@code altMetafactory} with a marker interface: left alone. */
    public static Supplier<String> marked() {
        return (Supplier<String> & Cloneable) () -> "marked";
    }

    /** {@code metafactory}: javac puts the bridge {@code get()Object} into {@link Narrowed} itself, as a default method. */
    public static Narrowed bridged() {
        return () -> "bridged";
    }

    /** {@code metafactory} already: untouched. */
    public static Supplier<String> plain() {
        return () -> "plain";
    }
}
