package org.blockferry.engine.source;

import java.util.List;
import java.util.Optional;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.plan.CopyMode;

/**
 * Full or incremental, and why: one chain of reasons for every source kind. A sync is
 * incremental only when it may be ({@code auto} or {@code incremental} requested), the last
 * completed sync from this source to this target left a token of this kind, the disk kept its
 * size, the target is the one that token was made for, and the source kind's own checks accept
 * the token (its bitmap still exists, CBT was not reset, ...). The first reason that fails is
 * what the operator reads; {@code incremental} requested then fails with it instead.
 */
public final class ModeDecision {

    /** A source kind's own check: why it cannot use this state or token, or empty when it can. */
    @FunctionalInterface
    public interface Check {
        Optional<String> refuses(ChangeToken previous);
    }

    /**
     * The outcome: {@code base} is the change tracking reference to copy the changes since
     * (null for a full sync), {@code reason} what the operator reads.
     */
    public record Decision(String base, String reason) {
        public boolean full() {
            return base == null;
        }

        public CopyMode mode() {
            return full() ? CopyMode.FULL : CopyMode.INCREMENTAL;
        }

        /** The reason as the job's state shows it: a full copy says so. */
        public String modeReason() {
            return full() && !reason.endsWith("full copy") && !reason.equals("full copy requested")
                    ? reason + ": full copy" : reason;
        }

        /** The same decision, but full because of {@code why} (found out after deciding, e.g. vCenter refused the token). */
        public Decision fullBecause(String why) {
            return new Decision(null, why);
        }
    }

    private ModeDecision() {
    }

    /**
     * Decides for {@code request} with the last token of kind {@code kind}, a disk now of
     * {@code capacity} bytes, {@code before}: checks that need no token (CBT just enabled), and
     * {@code after}: checks of the token itself. {@code describeBase} says what "changes since"
     * means for the kind ({@code bitmap 'x'}, {@code changeId 'y'}).
     *
     * @throws InvalidInputException naming {@code field} when {@code incremental} was requested and is not possible
     */
    public static Decision decide(SourceRequest request, String kind, long capacity, List<Check> before,
                                  List<Check> after, java.util.function.Function<String, String> describeBase,
                                  String field) {
        Optional<ChangeToken> previous = request.previous().filter(t -> t.kind().equals(kind));
        Decision d = chain(request, previous, capacity, before, after, describeBase);
        if (request.requested() == CopyMode.INCREMENTAL && d.full()) {
            throw notIncremental(field, d.reason());
        }
        return d;
    }

    /** The error of an {@code incremental} request that cannot be one. */
    public static InvalidInputException notIncremental(String field, String why) {
        return new InvalidInputException(field, "an incremental sync is not possible: " + why
                + " (use mode auto, which falls back to a full copy, or full)");
    }

    private static Decision chain(SourceRequest request, Optional<ChangeToken> previous, long capacity,
                                  List<Check> before, List<Check> after,
                                  java.util.function.Function<String, String> describeBase) {
        if (request.requested() == CopyMode.FULL) {
            return new Decision(null, "full copy requested");
        }
        for (Check c : before) {
            Optional<String> why = c.refuses(previous.orElse(null));
            if (why.isPresent()) {
                return new Decision(null, why.get());
            }
        }
        if (previous.isEmpty()) {
            return new Decision(null, "no change token yet for this disk and target");
        }
        ChangeToken token = previous.get();
        if (token.capacity() != capacity) {
            return new Decision(null, "the disk's size changed (" + token.capacity() + " -> " + capacity + " bytes)");
        }
        if (!token.target().equals(request.targetFingerprint())) {
            return new Decision(null, "the target was replaced since the last sync (" + request.disk().target() + ")");
        }
        for (Check c : after) {
            Optional<String> why = c.refuses(token);
            if (why.isPresent()) {
                return new Decision(null, why.get());
            }
        }
        return new Decision(token.reference(), "changes since " + describeBase.apply(token.reference()));
    }
}
