package org.blockferry.engine.copy;

/** Splits ranges into NBD requests that end on multiples of the request size. */
final class RequestSplitter {
    private RequestSplitter() {
    }

    /** The first multiple of {@code size} after {@code offset}: requests stay aligned to it. */
    static long nextBoundary(long offset, long size) {
        return (offset / size + 1) * size;
    }
}
