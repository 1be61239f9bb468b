package org.blockferry.engine.job;

import java.util.Optional;

/**
 * Where a disk's last change token is found: the token of the last completed sync from this
 * source to this target (the read side keeps them). The job actors ask it when they choose
 * between a full and an incremental copy.
 */
@FunctionalInterface
public interface ChangeTokens {
    Optional<String> last(String source, String target) throws Exception;

    /** No history: every sync is a first sync. */
    ChangeTokens NONE = (source, target) -> Optional.empty();
}
