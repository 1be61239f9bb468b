package org.blockferry.engine.job;

import org.blockferry.engine.copy.CopyEnvironment;
import org.blockferry.engine.copy.CopySettings;

/** What the job actors need from their node: the copy environment, the settings, the change tokens. */
public record JobRuntime(CopyEnvironment copy, CopySettings copySettings, JobSettings jobs, ChangeTokens tokens) {

    /** A runtime without change-token history (every sync is a first sync). */
    public JobRuntime(CopyEnvironment copy, CopySettings copySettings, JobSettings jobs) {
        this(copy, copySettings, jobs, ChangeTokens.NONE);
    }
}
