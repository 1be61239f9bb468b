package org.blockferry.api.cli;

import com.typesafe.config.Config;
import org.blockferry.engine.copy.CopyEnvironment;
import org.blockferry.engine.copy.CopySettings;
import org.blockferry.engine.endpoint.LocalExport;
import org.blockferry.nbd.NbdException;

/** What a command needs at run time: configuration, and (started on first use) the actor system and copy environment. */
final class CliContext implements AutoCloseable {
    private final Config config;
    private CopyEnvironment environment;

    /** Uses the process's configuration and actor system (started in the background by main). */
    CliContext() {
        this.config = ProcessRuntime.config().join();
    }

    Config config() {
        return config;
    }

    CopySettings settings() {
        return CopySettings.fromConfig(config);
    }

    LocalExport.Tools tools() {
        return LocalExport.Tools.fromConfig(config);
    }

    CopyEnvironment environment() throws NbdException {
        if (environment == null) {
            environment = CopyEnvironment.create(ProcessRuntime.system().join());
        }
        return environment;
    }

    @Override
    public void close() {
        if (environment != null) {
            environment.close();
        }
        ProcessRuntime.stop();
    }
}
