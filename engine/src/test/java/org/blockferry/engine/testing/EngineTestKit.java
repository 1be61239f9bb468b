package org.blockferry.engine.testing;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.blockferry.engine.copy.BufferPool;
import org.blockferry.engine.copy.CopyEnvironment;
import org.blockferry.engine.copy.CopyJob;
import org.blockferry.engine.copy.CopyProgress;
import org.blockferry.engine.copy.CopyResult;
import org.blockferry.engine.copy.CopySettings;
import org.blockferry.engine.copy.DiskCopy;
import org.blockferry.engine.copy.IoLoops;
import org.blockferry.engine.endpoint.DiskLocation;
import org.blockferry.engine.endpoint.LocalExport;
import org.blockferry.engine.source.nbd.NbdDiskSource;
import org.blockferry.engine.target.NbdDiskTarget;
import org.blockferry.nbd.NbdOptions;
import org.blockferry.nbd.testing.TestPeers;

/**
 * An actor system and a copy environment for one test class, with a small memory budget and
 * chunks so that tests exercise many chunks on small disks.
 */
public final class EngineTestKit implements AutoCloseable {
    public static final int CHUNK = 4 << 20;

    private final ActorSystem<Void> system;
    private final CopyEnvironment environment;
    private final Path dir;

    public EngineTestKit(String name) {
        this(name, 8);
    }

    /** {@code buffers} chunk buffers in the shared pool. */
    public EngineTestKit(String name, int buffers) {
        Config config = ConfigFactory.parseString("pekko.loglevel = WARNING").withFallback(ConfigFactory.load());
        this.system = ActorSystem.create(Behaviors.empty(), name, config);
        this.dir = TestPeers.scratchDirectory(name + "-");
        try {
            // huge-page buffers, as blockferry.copy.huge-pages makes them by default
            this.environment = new CopyEnvironment(system, BufferPool.create((long) buffers * CHUNK, CHUNK, true),
                    IoLoops.start(2, Duration.ofSeconds(30)),
                    system.dispatchers().lookup(org.apache.pekko.actor.typed.DispatcherSelector.blocking()),
                    LocalExport.Tools.fromConfig(config).withSocketRoot(dir));
        } catch (Exception e) {
            system.terminate();
            throw new AssertionError("cannot start the copy environment: " + e, e);
        }
    }

    public CopyEnvironment environment() {
        return environment;
    }

    public Path dir() {
        return dir;
    }

    /** Defaults from reference.conf, with test-sized chunks, requests and checkpoints. */
    public CopySettings settings() {
        return CopySettings.fromConfig(system.settings().config())
                .withChunkSize(CHUNK)
                .withRequestSize(1 << 20)
                .withCheckpointInterval(16L << 20)
                .withProgressInterval(Duration.ofMillis(200));
    }

    /** A copy in progress with the source and target it opened; closing closes both. */
    public record Running(DiskCopy copy, NbdDiskSource source, NbdDiskTarget target, List<CopyProgress> progress)
            implements AutoCloseable {
        public CopyResult await() throws Exception {
            return copy.await(Duration.ofMinutes(5));
        }

        @Override
        public void close() {
            copy.cancel();
            try {
                copy.result().toCompletableFuture().handle((r, e) -> null).get(2, TimeUnit.MINUTES);
            } catch (Exception ignored) {
                // the test reports its own failure
            }
            target.close();
            source.close();
        }
    }

    /** Starts copying {@code source} to {@code target} (URIs or paths) as the CLI would. */
    public Running start(String source, String target, CopySettings settings) throws Exception {
        NbdDiskSource src = NbdDiskSource.open("source", DiskLocation.parse("source", source), NbdOptions.DEFAULT,
                environment.tools());
        long size;
        try {
            size = src.size();
        } catch (Exception e) {
            src.close();
            throw e;
        }
        NbdDiskTarget dst;
        try {
            dst = NbdDiskTarget.open("target", DiskLocation.parse("target", target), size, NbdOptions.DEFAULT,
                    environment.tools());
        } catch (Exception e) {
            src.close();
            throw e;
        }
        List<CopyProgress> seen = new CopyOnWriteArrayList<>();
        DiskCopy copy = DiskCopy.start(CopyJob.full("disk", src, dst, settings, seen::add), environment);
        return new Running(copy, src, dst, seen);
    }

    /** Copies and waits. */
    public CopyResult copy(String source, String target, CopySettings settings) throws Exception {
        try (Running running = start(source, target, settings)) {
            return running.await();
        }
    }

    @Override
    public void close() {
        environment.close();
        system.terminate();
        try {
            system.getWhenTerminated().toCompletableFuture().get();
        } catch (Exception ignored) {
            // best effort
        }
    }
}
