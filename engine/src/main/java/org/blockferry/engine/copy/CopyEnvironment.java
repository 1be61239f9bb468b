package org.blockferry.engine.copy;

import com.typesafe.config.Config;
import java.util.concurrent.Executor;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.blockferry.engine.endpoint.LocalExport;
import org.blockferry.nbd.NbdException;

/**
 * What every copy in the process shares: the actor system (streams, scheduler), the memory
 * budget, the NBD I/O threads, a pool for blocking setup work and the local export tools.
 *
 * <p>The blocking setup work (NBD handshakes, opening exports, snapshots, waiting for a guest to
 * shut down) runs on {@value #DISK_SETUP_DISPATCHER}, threads of its own: a server that never
 * answers a handshake then holds one of those, never one of Pekko's default blocking dispatcher,
 * where the HTTP API runs its database queries.
 */
public record CopyEnvironment(ActorSystem<?> system, BufferPool pool, IoLoops loops, Executor blocking,
                              LocalExport.Tools tools) implements AutoCloseable {
    /** The dispatcher (defined in reference.conf) that disk setup blocks on. */
    public static final String DISK_SETUP_DISPATCHER = "blockferry.disk-setup-dispatcher";

    /** Builds the environment from {@code blockferry.*} in the system's configuration. */
    public static CopyEnvironment create(ActorSystem<?> system) throws NbdException {
        Config config = system.settings().config();
        CopySettings settings = CopySettings.fromConfig(config);
        long budget = CopySettings.longBytes(config.getConfig("blockferry.copy"), "memory-budget");
        int ioThreads = CopySettings.intValue(config.getConfig("blockferry.copy"), "io-threads");
        if (ioThreads < 0 || ioThreads > 64) {
            throw new org.blockferry.engine.endpoint.InvalidInputException("blockferry.copy.io-threads",
                    "must be 0 (one per core) to 64, got " + ioThreads);
        }
        boolean hugePages = CopySettings.bool(config.getConfig("blockferry.copy"), "huge-pages");
        BufferPool pool = BufferPool.create(budget, settings.chunkSize(), hugePages);
        IoLoops loops = IoLoops.start(ioThreads, settings.requestTimeout());
        Executor blocking = system.dispatchers().lookup(DispatcherSelector.fromConfig(DISK_SETUP_DISPATCHER));
        return new CopyEnvironment(system, pool, loops, blocking, LocalExport.Tools.fromConfig(config));
    }

    @Override
    public void close() {
        loops.close();
    }
}
