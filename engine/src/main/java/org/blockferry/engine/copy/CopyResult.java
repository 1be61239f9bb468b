package org.blockferry.engine.copy;

/**
 * How a disk copy ended: its final progress and how it ran.
 *
 * @param zeroSentBytes bytes sent to the target as NBD zero (or zero writes)
 * @param targetKnownZeroBytes bytes the target reported as zeros before the copy
 * @param copySeconds from the first connection to the final flush
 */
public record CopyResult(CopyProgress progress, int sourceConnections, int targetConnections, int requestSize,
                         long zeroSentBytes, long targetKnownZeroBytes, double copySeconds) {
}
