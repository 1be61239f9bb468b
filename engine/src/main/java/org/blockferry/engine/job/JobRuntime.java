package org.blockferry.engine.job;

import org.blockferry.engine.copy.CopyEnvironment;
import org.blockferry.engine.copy.CopySettings;

/** What the job actors need from their node: the copy environment and the settings. */
public record JobRuntime(CopyEnvironment copy, CopySettings copySettings, JobSettings jobs) {
}
