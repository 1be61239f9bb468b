package org.blockferry.engine.cluster;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.pekko.actor.ActorRef;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.cluster.sharding.ShardCoordinator;
import org.apache.pekko.cluster.sharding.ShardRegion;
import org.apache.pekko.cluster.sharding.typed.ClusterShardingQuery;
import org.apache.pekko.cluster.sharding.typed.GetClusterShardingStats;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityTypeKey;
import org.apache.pekko.dispatch.Futures;
import org.blockferry.engine.actor.RunSlots;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.collection.immutable.IndexedSeq;
import scala.concurrent.Future;

/**
 * Where the job entities run: one shard per job, placed on the node with room that copies the
 * fewest disks (not by hash), and moved, while it only waits for a slot, from a full node to one
 * with room. Loads come from {@link NodeLoads}; the jobs placed here since a node's last sample
 * count as its own, so a burst of submissions spreads out.
 *
 * <p>A shard that holds no entity (its job ended and left memory) is retired: handed off like a
 * move, after which the coordinator forgets it. Without that the coordinator's state, which it
 * copies to the other nodes on every change, and each node's shard actors would grow with every
 * job ever run. The placement asks the regions how many entities each shard holds (every
 * {@code checkEvery}, only where the coordinator runs) and retires a shard it saw empty at every
 * check for {@code emptyFor}; the coordinator, which places a shard again right after its
 * hand-off, is given no home for it (it forgets the shard). When its job is asked for again, the
 * shard comes back where the placement puts it, as for any new job. (Pekko's coordinator skips a
 * placement that names no registered region; JobShardRetirementTest checks it still does.)
 */
public final class LoadPlacement extends ShardCoordinator.AbstractShardAllocationStrategy
        implements ShardCoordinator.ActorSystemDependentAllocationStrategy {
    private static final Logger log = LoggerFactory.getLogger(LoadPlacement.class);

    /** How long a placement counts until samples show it (nanoseconds). */
    private static final long RECENT = 4_000_000_000L;
    /** Shards retired per rebalance round at most (each is a hand-off and a state update). */
    static final int RETIRE_PER_ROUND = 100;
    /** The least time the regions get to count the entities of their shards. */
    private static final Duration STATS_TIMEOUT = Duration.ofSeconds(5);
    /** How long a retired shard waits for the coordinator's re-placement at most (nanoseconds). */
    private static final long RETIRED_KEPT = 120_000_000_000L;

    private final EntityTypeKey<?> typeKey;
    private final Duration checkEvery;
    private final Duration emptyFor;
    private volatile NodeLoads loads;
    private volatile org.apache.pekko.actor.typed.ActorSystem<?> typed;
    /** Per node: when (nanoTime) jobs were placed on it, until its next sample shows them. */
    private final Map<Address, List<Long>> placed = new HashMap<>();
    /** Shards that held no entity at every check since (nanoTime of the first). */
    private final Map<String, Long> emptySince = new ConcurrentHashMap<>();
    private final AtomicBoolean checking = new AtomicBoolean();
    /** Shards handed off to be retired (nanoTime), until the coordinator's own re-placement of each. */
    private final Map<String, Long> retired = new ConcurrentHashMap<>();
    private volatile long lastCheck;

    /**
     * The placement of {@code typeKey}'s shards; entities leave memory after {@code passivateAfter}
     * idle, and their empty shards are looked for every quarter of that (1 to 10 s) and retired
     * once seen empty for one and a half of those intervals.
     */
    public LoadPlacement(EntityTypeKey<?> typeKey, Duration passivateAfter) {
        this.typeKey = typeKey;
        long quarter = passivateAfter.toMillis() / 4;
        this.checkEvery = Duration.ofMillis(Math.max(1000, Math.min(10_000, quarter)));
        this.emptyFor = checkEvery.multipliedBy(3).dividedBy(2);
        this.lastCheck = System.nanoTime() - checkEvery.toNanos(); // the first rebalance round checks
    }

    @Override
    public void start(ActorSystem system) {
        typed = Adapter.toTyped(system);
        loads = NodeLoads.get(typed);
    }

    @Override
    public Future<ActorRef> allocateShard(ActorRef requester, String shardId,
                                          Map<ActorRef, IndexedSeq<String>> current) {
        if (current.isEmpty() || loads == null) {
            return Futures.successful(requester);
        }
        if (!current.containsKey(requester) && retired.remove(shardId) != null) {
            // The coordinator places a shard again as soon as its hand-off is done (itself the
            // requester, not a region): a retired one stays unplaced, the coordinator forgets it.
            // A region that has a message for it asks again, and gets a home as any new shard.
            return Futures.successful(requester);
        }
        Map<Address, NodeLoads.Sample> samples = loads.snapshot();
        ActorRef best = null;
        long[] bestScore = null;
        for (Map.Entry<ActorRef, IndexedSeq<String>> e : current.entrySet()) {
            Address node = loads.clusterAddress(e.getKey().path().address());
            long[] score = score(samples.get(node), recent(node, samples.get(node)), e.getValue().size());
            if (best == null || compare(score, bestScore) < 0
                    || compare(score, bestScore) == 0 && node.toString().compareTo(address(best)) < 0) {
                best = e.getKey();
                bestScore = score;
            }
        }
        placedOn(loads.clusterAddress(best.path().address()));
        return Futures.successful(best);
    }

    @Override
    public Future<Set<String>> rebalance(Map<ActorRef, IndexedSeq<String>> current, Set<String> inProgress) {
        if (!inProgress.isEmpty() || loads == null) {
            return Futures.successful(Set.of());
        }
        checkForEmptyShards(); // rebalance runs where the coordinator runs: so does the check
        Map<Address, NodeLoads.Sample> samples = loads.snapshot();
        int room = 0;
        for (ActorRef region : current.keySet()) {
            Address node = loads.clusterAddress(region.path().address());
            NodeLoads.Sample s = samples.get(node);
            if (s != null) {
                RunSlots.Occupancy o = s.occupancy();
                room += Math.max(0, o.max() - o.running() - o.queued() - recent(node, s));
            }
        }
        Set<String> move = new HashSet<>();
        for (Map.Entry<ActorRef, IndexedSeq<String>> e : current.entrySet()) {
            NodeLoads.Sample s = samples.get(loads.clusterAddress(e.getKey().path().address()));
            if (s == null || room <= move.size()) {
                continue;
            }
            Set<String> here = new HashSet<>(scala.jdk.javaapi.CollectionConverters.asJava(e.getValue()));
            for (String waiting : s.occupancy().waiting()) {
                if (room > move.size() && here.contains(waiting)) {
                    move.add(waiting); // only waits for a slot here: it runs sooner where there is room
                }
            }
        }
        retire(move);
        return Futures.successful(move);
    }

    /** Adds to {@code move} the shards seen empty for {@link #emptyFor} (at most {@link #RETIRE_PER_ROUND}). */
    private void retire(Set<String> move) {
        long now = System.nanoTime();
        retired.values().removeIf(at -> now - at > RETIRED_KEPT); // a hand-off that never ended
        int count = 0;
        for (Map.Entry<String, Long> e : emptySince.entrySet()) { // allocated shards: the regions named them
            if (count < RETIRE_PER_ROUND && now - e.getValue() >= emptyFor.toNanos() && move.add(e.getKey())) {
                emptySince.remove(e.getKey());
                retired.put(e.getKey(), now);
                count++;
            }
        }
        if (count > 0) {
            log.info("event=shards-retired type={} count={}", typeKey.name(), count);
        }
    }

    /** Asks the regions, at most every {@link #checkEvery}, which shards hold no entity. */
    private void checkForEmptyShards() {
        long now = System.nanoTime();
        org.apache.pekko.actor.typed.ActorSystem<?> system = typed;
        if (system == null || now - lastCheck < checkEvery.toNanos() || !checking.compareAndSet(false, true)) {
            return;
        }
        lastCheck = now;
        // Room for shards busy starting under load: one that does not answer in time makes its region
        // log a warning and this check count for nothing.
        Duration timeout = checkEvery.compareTo(STATS_TIMEOUT) < 0 ? STATS_TIMEOUT : checkEvery;
        AskPattern.<ClusterShardingQuery, ShardRegion.ClusterShardingStats>ask(
                        ClusterSharding.get(system).shardState(),
                        replyTo -> new GetClusterShardingStats(typeKey, timeout, replyTo), timeout.plusSeconds(1),
                        system.scheduler())
                .whenComplete((stats, failure) -> {
                    try {
                        emptyNow(stats == null ? null : empty(stats));
                    } finally {
                        checking.set(false);
                    }
                });
    }

    /** The shards of every region that answered with no entity; null when not every region answered. */
    private static Set<String> empty(ShardRegion.ClusterShardingStats stats) {
        Set<String> empty = new HashSet<>();
        for (ShardRegion.ShardRegionStats region : stats.getRegions().values()) {
            if (!region.getFailed().isEmpty()) {
                return null; // not every shard answered: its count is unknown, its region's are not enough
            }
            region.getStats().forEach((shard, entities) -> {
                if (((Number) entities).intValue() == 0) {
                    empty.add(shard);
                }
            });
        }
        return empty;
    }

    /** A shard stays a candidate only while every check finds it empty. */
    private void emptyNow(Set<String> empty) {
        if (empty == null) {
            emptySince.clear();
            return;
        }
        long now = System.nanoTime();
        emptySince.keySet().retainAll(empty);
        for (String shard : empty) {
            emptySince.putIfAbsent(shard, now);
        }
    }

    /** Lower is better: no room last, then fewer disks copying, then fewer jobs, then fewer shards. */
    private static long[] score(NodeLoads.Sample s, int recent, int shards) {
        if (s == null) {
            return new long[] {1, Long.MAX_VALUE / 2, Long.MAX_VALUE / 2, shards};
        }
        RunSlots.Occupancy o = s.occupancy();
        long jobs = (long) o.running() + o.queued() + recent;
        return new long[] {jobs < o.max() ? 0 : 1, (long) o.runningDisks() + recent, jobs, shards};
    }

    private static int compare(long[] a, long[] b) {
        return java.util.Arrays.compare(a, b);
    }

    private static String address(ActorRef region) {
        return region.path().address().toString();
    }

    private synchronized void placedOn(Address node) {
        placed.computeIfAbsent(node, k -> new ArrayList<>()).add(System.nanoTime());
    }

    /** Jobs placed on {@code node} after its sample was taken. */
    private synchronized int recent(Address node, NodeLoads.Sample sample) {
        List<Long> times = placed.get(node);
        if (times == null) {
            return 0;
        }
        long now = System.nanoTime();
        times.removeIf(t -> t < now - RECENT); // by now every sample shows it
        // A job placed shortly before a sample may not have asked for its slot yet when it was taken.
        long since = sample == null ? 0 : sample.atNanos() - RECENT / 2;
        return (int) times.stream().filter(t -> sample == null || t > since).count();
    }
}
