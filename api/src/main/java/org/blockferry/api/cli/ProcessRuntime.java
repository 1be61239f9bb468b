package org.blockferry.api.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.util.concurrent.CompletableFuture;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.stream.SystemMaterializer;

/**
 * The configuration and the actor system of this process, started once, in the background,
 * as early as {@code main} can (a command that needs neither never waits for them).
 */
public final class ProcessRuntime {
    private static CompletableFuture<Config> config;
    private static CompletableFuture<ActorSystem<Void>> system;

    private ProcessRuntime() {
    }

    /** Starts loading the configuration and the actor system on a background thread. */
    public static synchronized void startInBackground() {
        if (config != null) {
            return;
        }
        // The thread completes the futures it was started for, never whatever the fields hold later.
        CompletableFuture<Config> configFuture = new CompletableFuture<>();
        CompletableFuture<ActorSystem<Void>> systemFuture = new CompletableFuture<>();
        config = configFuture;
        system = systemFuture;
        Thread t = new Thread(() -> {
            try {
                Config c = ConfigFactory.load();
                configFuture.complete(c);
                ActorSystem<Void> created = ActorSystem.create(Behaviors.empty(), "blockferry", localOnly(c));
                systemFuture.complete(created);
                // The copy's stream needs the system's materializer: its first start costs ~30 ms
                // on a cold JVM, done here while the command opens its disks.
                SystemMaterializer.get(created);
            } catch (Throwable e) {
                configFuture.completeExceptionally(e);
                systemFuture.completeExceptionally(e);
            }
        }, "runtime-start");
        t.setDaemon(true);
        t.start();
    }

    /**
     * The configuration of this process's actor system ({@code copy}, {@code verify}): local,
     * and no message of it ever leaves the JVM. Pekko loads its library extensions when a system
     * starts, and the serialization extension instantiates every serializer the classpath
     * configures — those of cluster, sharding, replicated data, persistence, remoting and Jackson
     * cost some 700 classes and a tenth of a second for nothing here. Without library
     * extensions, serialization loads only if something asks for it (nothing does: local
     * messages are never serialized). A node ({@code serve}, {@code replicate}, {@code demo})
     * builds its own system with all of them.
     */
    static Config localOnly(Config config) {
        return ConfigFactory.parseString("pekko.library-extensions = []").withFallback(config);
    }

    static synchronized CompletableFuture<Config> config() {
        startInBackground();
        return config;
    }

    static synchronized CompletableFuture<ActorSystem<Void>> system() {
        startInBackground();
        return system;
    }

    /** Stops the actor system (tests run several commands in one JVM: each gets a fresh one). */
    static synchronized void stop() {
        if (system == null) {
            return;
        }
        CompletableFuture<ActorSystem<Void>> s = system;
        config = null;
        system = null;
        s.thenAccept(running -> {
            running.terminate();
            try {
                running.getWhenTerminated().toCompletableFuture().get(10, java.util.concurrent.TimeUnit.SECONDS);
            } catch (Exception ignored) {
                // the process exits right after
            }
        }).exceptionally(e -> null).join();
    }
}
