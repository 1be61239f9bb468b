package org.blockferry.api.node;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.nio.file.Path;
import org.apache.pekko.actor.typed.ActorSystem;
import org.blockferry.engine.endpoint.SecretFile;
import org.blockferry.engine.actor.JobClient;
import org.blockferry.engine.actor.JobPeers;
import org.blockferry.engine.actor.JobRuntime;
import org.blockferry.engine.actor.JobActor;
import org.blockferry.engine.cluster.JobOwnership;
import org.blockferry.engine.copy.CopyEnvironment;
import org.blockferry.engine.copy.CopySettings;
import org.blockferry.engine.endpoint.StoragePolicy;
import org.blockferry.engine.job.JobSettings;
import org.blockferry.engine.source.vmware.VmwareSettings;
import org.blockferry.engine.source.vmware.VmwareSources;
import org.blockferry.engine.cloudstack.Clouds;
import org.blockferry.engine.actor.GuestConverter;
import org.blockferry.engine.target.GuestConversion;
import org.blockferry.engine.source.vmware.WholeVmJobs;
import org.blockferry.persistence.Database;
import org.blockferry.persistence.JournalConfig;
import org.blockferry.persistence.PersistenceSettings;
import org.blockferry.persistence.lease.DatabaseJobOwnership;
import org.blockferry.persistence.lease.JournalEnds;
import org.blockferry.persistence.lease.DatabaseLeases;
import org.blockferry.persistence.lease.LeaseDatabase;
import org.blockferry.persistence.lease.LeaseKeeper;
import org.blockferry.persistence.lease.LeaseTiming;
import javax.sql.DataSource;
import org.blockferry.persistence.readside.JobQueries;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running BlockFerry node: database and schema, the actor system (a cluster member), job and
 * location sharding, the read side, and the jobs that were unfinished when the process last stopped,
 * resumed.
 */
public final class Node implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Node.class);

    /** A node's job leases: the keeper that renews them, the ownership its jobs use, their timing. */
    private record Leases(LeaseKeeper keeper, DatabaseJobOwnership ownership, LeaseTiming timing) {
    }

    private final ActorSystem<Void> system;
    private final Database database;
    private final CopyEnvironment copy;
    private final JobClient jobs;
    private final JobQueries queries;
    private final WholeVmJobs wholeVm;
    private final java.util.List<Runnable> beforeClose = new java.util.concurrent.CopyOnWriteArrayList<>();

    private final Leases leases;

    private Node(ActorSystem<Void> system, Database database, CopyEnvironment copy, StoragePolicy storage,
                 Leases leases, VmwareSettings vmware, JobSettings jobSettings) {
        this.leases = leases;
        this.wholeVm = new WholeVmJobs(vmware, storage);
        this.system = system;
        this.database = database;
        this.copy = copy;
        this.jobs = new JobClient(system, Duration.ofSeconds(30), storage, jobSettings.startingAtOnce());
        this.queries = new JobQueries(database.dataSource(), database.settings().backend());
    }

    // ---- who the node's jobs act for (the storage policy) ----

    /** Whose jobs a node runs, which decides what they may read and write on this host. */
    public enum Access {
        /** The local operator's commands ({@code replicate}, {@code demo}): any path, as the operator's shell. */
        OPERATOR,
        /**
         * {@code blockferry serve}: jobs come from API clients. Every job the node runs — submitted
         * over the API or resumed from the journal, whoever started it — is held to the configured
         * storage policy ({@code blockferry.storage}, {@code blockferry.nbd}), at submission and
         * when its disks are opened.
         */
        SERVE
    }

    private static StoragePolicy storage(Access access, Config config, PersistenceSettings persistence) {
        if (access == Access.OPERATOR) {
            return StoragePolicy.UNRESTRICTED;
        }
        StoragePolicy policy = ServePolicy.of(config, persistence);
        log.info("event=storage-policy roots={} devices={}", policy.roots(), policy.deviceGlobs());
        return policy;
    }

    // ----

    /**
     * An operator's command ({@code replicate}, {@code demo}) runs a one-shot node, which leaves
     * its cluster at the end when it joined one (seed nodes configured; alone it skips the leave,
     * {@link #ONE_SHOT_ALONE}). A leave waited about two seconds for ticks meant for handing work
     * to other members: the leader moves a leaving member on at each leader-actions tick, and each
     * sharding coordinator's singleton (the read side's sharded daemon process has its own) retries
     * its hand-over each hand-over-retry-interval, 1 s each by default (here 25 ms: such a tick is
     * microseconds of work, and the exit waits for about two of them). A serving node keeps
     * Pekko's defaults.
     */
    private static final Config ONE_SHOT_LEAVE = ConfigFactory.parseString("""
            pekko.cluster.leader-actions-interval = 25ms
            pekko.cluster.singleton.hand-over-retry-interval = 25ms
            pekko.cluster.sharding.coordinator-singleton.hand-over-retry-interval = 25ms
            pekko.cluster.sharded-daemon-process.sharding.coordinator-singleton.hand-over-retry-interval = 25ms
            """);

    /**
     * A one-shot node alone in its cluster (no seed nodes: nobody else knows its address) skips
     * the leave: no member could take its shards or singletons, and its job's entities are still
     * handed off and stopped in the phase before, its leases given back after the system stops.
     * Its stop took 85-311 ms of each {@code replicate} on two cores, 46-150 ms of it in the leave's
     * phases (leaving, exiting, exiting-done, the cluster daemon's shutdown: leader ticks and gossip);
     * now 38-58 ms (bench/README.md, "A one-shot node's first job and its exit"). A one-shot command
     * configured with seed nodes joins a cluster and leaves it as above.
     */
    private static final Config ONE_SHOT_ALONE = ConfigFactory.parseString("""
            pekko.coordinated-shutdown.phases.cluster-leave.enabled = off
            pekko.coordinated-shutdown.phases.cluster-exiting.enabled = off
            pekko.coordinated-shutdown.phases.cluster-exiting-done.enabled = off
            pekko.coordinated-shutdown.phases.cluster-shutdown.enabled = off
            """);

    /** Starts a node from {@code base} (the process configuration). */
    public static Node start(Config base, Access access) throws Exception {
        return start(base, PersistenceSettings.fromConfig(base), JobSettings.fromConfig(base), access);
    }

    public static Node start(Config base, PersistenceSettings persistence, JobSettings jobSettings, Access access)
            throws Exception {
        StoragePolicy storage = storage(access, base, persistence); // a bad setting fails before anything starts
        ClusterSettings.fromConfig(base);
        LeaseTiming.fromConfig(base);
        // the node's own directory (database, token, keys, exports' sockets): its owner's only
        SecretFile.ownerOnlyDirectory(Path.of(base.getString("blockferry.data-dir")), true);
        Config config = systemConfig(base, persistence, access);
        boolean joinSelf = joinsSelf(config);
        // A node on its own (no seed nodes: every one-shot command, a single serve) opens the database
        // (pool, schema: ~170 ms on H2) while its actor system starts (~430 ms: remoting, cluster):
        // the system needs the database only once the leases and the journal are used, below. A node
        // that joins others does so only with its database open: one that cannot reach it must not
        // become a member, even for a moment.
        DatabaseOpening opening = DatabaseOpening.start(persistence);
        if (!joinSelf) {
            opening.await();
        }
        ActorSystem<Void> system;
        try {
            system = ActorSystem.create(org.apache.pekko.actor.typed.javadsl.Behaviors.empty(), "blockferry", config);
        } catch (RuntimeException | Error e) { // the database, opening meanwhile, is closed once open
            opening.closeWhenOpen();
            throw e;
        }
        Database database;
        try {
            database = opening.await();
        } catch (Exception e) {
            system.terminate();
            throw e;
        }
        try {
            CopyEnvironment copy = null;
            JobRuntime runtime;
            Leases leases;
            VmwareSettings vmware;
            try {
                vmware = VmwareSettings.fromConfig(config); // checked at start, naming the key
                copy = CopyEnvironment.create(system);
                runtime = new JobRuntime(copy, CopySettings.fromConfig(config), jobSettings,
                        new VmwareSources(system, vmware, copy.tools().withStorage(storage)), JobPeers.sharded(system),
                        storage);
                leases = leases(system, database, copy, base);
                GuestConversion conversion = GuestConversion.fromConfig(config);
                runtime = runtime.withOwnership(leases.ownership(), name(system)).withClouds(Clouds.fromConfig(config))
                        .withConversion(GuestConverter.of(conversion,
                                Path.of(config.getString("blockferry.data-dir")).resolve("conversions")));
                log.info("event=guest-conversion {}", conversion.settings());
            } catch (Exception e) {
                if (copy != null) {
                    copy.close();
                }
                system.terminate();
                throw e;
            }
            NodeWiring.wire(system, runtime, database, joinSelf);
            Node node = new Node(system, database, copy, storage, leases, vmware, jobSettings);
            node.resumeUnfinished();
            JobWaker.start(system, ClusterSettings.fromConfig(base).removalMargin(),
                    () -> node.wakeUnfinished().size(), copy.blocking());
            return node;
        } catch (Exception e) {
            database.close();
            throw e;
        }
    }

    /** The actor system's configuration for a node of {@code access} on {@code persistence}. */
    static Config systemConfig(Config base, PersistenceSettings persistence, Access access) {
        Config config = clusterConfig(JournalConfig.apply(persistence,
                access == Access.OPERATOR ? ONE_SHOT_LEAVE.withFallback(base) : base));
        return access == Access.OPERATOR && joinsSelf(config) ? ONE_SHOT_ALONE.withFallback(config) : config;
    }

    /** A node without seed nodes forms a cluster of its own. */
    private static boolean joinsSelf(Config config) {
        return config.getList("pekko.cluster.seed-nodes").isEmpty();
    }

    /** The cluster settings of a node ({@link ClusterSettings}): standalone by default, one member that joins itself. */
    static Config clusterConfig(Config base) {
        return ClusterSettings.fromConfig(base).pekko(base);
    }

    /**
     * Who owns which job, across every process on the database: leases in the database, renewed
     * by one keeper thread, owned as this cluster member (address, uid and pid: what an operator
     * needs to find the process).
     */
    private static Leases leases(ActorSystem<?> system, Database database, CopyEnvironment copy,
                                          Config base) {
        LeaseTiming timing = LeaseTiming.fromConfig(base);
        DataSource leases = database.leaseDataSource();
        LeaseDatabase.set(system, leases, database.settings().backend()); // the split-brain resolver's lease too
        LeaseKeeper keeper = new LeaseKeeper(new DatabaseLeases(leases, database.settings().backend(), timing),
                "blockferry-leases");
        var self = org.apache.pekko.cluster.typed.Cluster.get(system).selfMember().uniqueAddress();
        String owner = self.address() + "#" + self.longUid() + " (pid " + ProcessHandle.current().pid() + ")";
        DatabaseJobOwnership ownership = new DatabaseJobOwnership(keeper, owner, copy.blocking(),
                JournalEnds.of(database.dataSource(), database.settings().backend(), JobActor::persistenceIdOf));
        // closed by the node once its actors stopped, before the database
        return new Leases(keeper, ownership, timing);
    }

    /** A node's name in job documents and logs: its cluster address as "host:port". */
    public static String name(org.apache.pekko.actor.Address a) {
        return MembershipLog.name(a);
    }

    public static String name(ActorSystem<?> system) {
        return MembershipLog.name(org.apache.pekko.cluster.typed.Cluster.get(system).selfMember().address());
    }

    private void resumeUnfinished() throws SQLException {
        Set<String> unfinished = wakeUnfinished();
        if (!unfinished.isEmpty()) {
            log.info("event=jobs-resumed count={} jobs={}", unfinished.size(), unfinished);
        }
    }

    /** Wakes every unfinished job, wherever it runs or not (node start, {@link JobWaker}); returns them. */
    private Set<String> wakeUnfinished() throws SQLException {
        Set<String> unfinished = queries.unfinishedJobIds();
        for (String id : unfinished) {
            jobs.resume(id);
        }
        return unfinished;
    }

    /**
     * Who owns job {@code jobId} if not this node (another process on the database: a node of
     * this or another cluster, a {@code replicate}); empty when nobody else does.
     */
    public java.util.Optional<String> jobOwnerElsewhere(String jobId) throws SQLException {
        return leases.keeper().leases().owner(DatabaseJobOwnership.leaseName(jobId))
                .filter(o -> !o.equals(leases.ownership().owner()));
    }

    /** How long a job's lease outlives its owner: a process that holds one longer is alive. */
    public Duration leaseExpiry() {
        return leases.timing().expiry();
    }

    public ActorSystem<Void> system() {
        return system;
    }

    public JobClient jobs() {
        return jobs;
    }

    public JobQueries queries() {
        return queries;
    }

    /**
     * Expands whole-VM jobs before they are submitted ({@link WholeVmJobs}): on this node's
     * vCenters, their targets held to its storage policy. Blocks on vCenter.
     */
    public WholeVmJobs wholeVmJobs() {
        return wholeVm;
    }

    public Database database() {
        return database;
    }

    public CopyEnvironment copyEnvironment() {
        return copy;
    }

    /** Runs {@code hook} when the node is closed, before it stops (in the order added). */
    public void onClose(Runnable hook) {
        beforeClose.add(hook);
    }

    @Override
    public void close() {
        try {
            beforeClose.forEach(Runnable::run);
        } finally {
            stop();
        }
    }

    private void stop() {
        // pekko-projection-jdbc 1.0.0 prints "# stop ..." on System.out when its projection stops;
        // stdout carries our results (--json): the library's line goes nowhere.
        java.io.PrintStream stdout = System.out;
        System.setOut(new java.io.PrintStream(java.io.OutputStream.nullOutputStream()));
        try {
            terminate();
        } finally {
            System.setOut(stdout);
        }
    }

    private void terminate() {
        system.terminate();
        try {
            system.getWhenTerminated().toCompletableFuture().get(30, java.util.concurrent.TimeUnit.SECONDS);
        } catch (Exception e) {
            log.warn("event=node-stop-slow error={}", e.toString());
        }
        try {
            leases.keeper().closeAndWait(Duration.ofSeconds(5)); // jobs given back are free for the others at once
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        copy.close();
        database.close();
    }

    /** The database opened and its schema applied on a thread of its own, while the node starts the rest. */
    private static final class DatabaseOpening {
        private final java.util.concurrent.CompletableFuture<Database> result =
                new java.util.concurrent.CompletableFuture<>();

        static DatabaseOpening start(PersistenceSettings persistence) {
            DatabaseOpening opening = new DatabaseOpening();
            Thread t = new Thread(() -> {
                try {
                    Database database = Database.open(persistence);
                    try {
                        database.applySchema();
                    } catch (SQLException | RuntimeException e) {
                        database.close();
                        throw e;
                    }
                    opening.result.complete(database);
                } catch (Throwable e) {
                    opening.result.completeExceptionally(e);
                }
            }, "database-open");
            t.setDaemon(true);
            t.start();
            return opening;
        }

        /** The open database, or what opening it threw (as it was thrown). */
        Database await() throws Exception {
            try {
                return result.get();
            } catch (java.util.concurrent.ExecutionException e) {
                Throwable cause = e.getCause();
                if (cause instanceof Exception ex) {
                    throw ex;
                }
                throw (Error) cause;
            }
        }

        /** The caller gives up: the database, once (if) open, is closed. */
        void closeWhenOpen() {
            result.thenAccept(Database::close);
        }
    }
}
