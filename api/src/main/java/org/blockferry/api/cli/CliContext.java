package org.blockferry.api.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.blockferry.engine.copy.CopyEnvironment;
import org.blockferry.engine.copy.CopySettings;
import org.blockferry.engine.endpoint.LocalExport;
import org.blockferry.nbd.NbdException;

/** What a command needs at run time: configuration, and (started on first use) the actor system and copy environment. */
final class CliContext implements AutoCloseable {
    private final Config config;
    private ActorSystem<Void> system;
    private CopyEnvironment environment;

    CliContext() {
        this.config = ConfigFactory.load();
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
            system = ActorSystem.create(Behaviors.empty(), "blockferry", config);
            environment = CopyEnvironment.create(system);
        }
        return environment;
    }

    @Override
    public void close() {
        if (environment != null) {
            environment.close();
        }
        if (system != null) {
            system.terminate();
            try {
                system.getWhenTerminated().toCompletableFuture().get(Duration.ofSeconds(10).toMillis(),
                        java.util.concurrent.TimeUnit.MILLISECONDS);
            } catch (Exception ignored) {
                // the process exits right after
            }
        }
    }
}
