package org.blockferry.engine.cluster;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.pekko.actor.ActorRef;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.cluster.sharding.ShardCoordinator;
import org.apache.pekko.dispatch.Futures;
import org.blockferry.engine.actor.RunSlots;
import scala.collection.immutable.IndexedSeq;
import scala.concurrent.Future;

/**
 * Where the job entities run: one shard per job, placed on the node with room that copies the
 * fewest disks (not by hash), and moved, while it only waits for a slot, from a full node to one
 * with room. Loads come from {@link NodeLoads}; the jobs placed here since a node's last sample
 * count as its own, so a burst of submissions spreads out.
 */
public final class LoadPlacement extends ShardCoordinator.AbstractShardAllocationStrategy
        implements ShardCoordinator.ActorSystemDependentAllocationStrategy {

    /** How long a placement counts until samples show it (nanoseconds). */
    private static final long RECENT = 4_000_000_000L;

    private volatile NodeLoads loads;
    /** Per node: when (nanoTime) jobs were placed on it, until its next sample shows them. */
    private final Map<Address, List<Long>> placed = new HashMap<>();

    @Override
    public void start(ActorSystem system) {
        loads = NodeLoads.get(Adapter.toTyped(system));
    }

    @Override
    public Future<ActorRef> allocateShard(ActorRef requester, String shardId,
                                          Map<ActorRef, IndexedSeq<String>> current) {
        if (current.isEmpty() || loads == null) {
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
        return Futures.successful(move);
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
