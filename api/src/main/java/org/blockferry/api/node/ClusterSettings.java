package org.blockferry.api.node;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueType;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.AddressFromURIString;
import org.blockferry.engine.endpoint.InvalidInputException;

/**
 * A node's cluster settings ({@code blockferry.cluster}), checked, and the Pekko settings they
 * make: membership (seed nodes), the split-brain resolver that downs unreachable nodes, the
 * failure detector, and job sharding (its shards are not remembered: see {@link JobWaker}).
 */
record ClusterSettings(String hostname, int port, List<String> seedNodes, String downingStrategy,
                       Duration stableAfter, Duration removalMargin, Duration heartbeatInterval,
                       Duration heartbeatPause) {

    static final String KEY = "blockferry.cluster";
    private static final List<String> STRATEGIES = List.of("keep-majority", "lease-majority");

    static ClusterSettings fromConfig(Config base) {
        Config c = base.getConfig(KEY);
        List<String> seeds = seedNodes(c);
        String strategy = c.getString("downing.strategy").trim();
        if (!STRATEGIES.contains(strategy)) {
            throw new InvalidInputException(KEY + ".downing.strategy",
                    "\"" + strategy + "\" is not one of " + STRATEGIES);
        }
        return new ClusterSettings(c.getString("hostname"), c.getInt("port"), seeds, strategy,
                positive(c, "downing.stable-after"), positive(c, "downing.removal-margin"),
                positive(c, "failure-detector.heartbeat-interval"),
                positive(c, "failure-detector.acceptable-heartbeat-pause"));
    }

    /** A list, or (from BLOCKFERRY_CLUSTER_SEED_NODES) a comma-separated string; each a node's address. */
    private static List<String> seedNodes(Config c) {
        List<String> raw;
        try {
            raw = c.getValue("seed-nodes").valueType() == ConfigValueType.STRING
                    ? Arrays.stream(c.getString("seed-nodes").split(",")).map(String::trim).filter(s -> !s.isEmpty())
                    .toList()
                    : c.getStringList("seed-nodes");
        } catch (com.typesafe.config.ConfigException e) {
            throw new InvalidInputException(KEY + ".seed-nodes",
                    "must be a list of addresses, or one comma-separated string of them");
        }
        List<String> out = new ArrayList<>();
        for (String s : raw) {
            if (!isNodeAddress(s)) {
                throw new InvalidInputException(KEY + ".seed-nodes",
                        "\"" + s + "\" is not an address like pekko://blockferry@HOST:PORT");
            }
            out.add(s);
        }
        return List.copyOf(out);
    }

    private static boolean isNodeAddress(String s) {
        Address a;
        try {
            a = AddressFromURIString.parse(s);
        } catch (Exception e) { // Scala throws an undeclared MalformedURLException
            return false;
        }
        return a.protocol().equals("pekko") && a.system().equals("blockferry") && a.host().isDefined()
                && a.port().isDefined();
    }

    private static Duration positive(Config c, String key) {
        Duration d;
        try {
            d = c.getDuration(key);
        } catch (RuntimeException e) {
            throw new InvalidInputException(KEY + "." + key, "is not a duration (for example 7s)");
        }
        if (d.isNegative() || d.isZero()) {
            throw new InvalidInputException(KEY + "." + key, "must be positive");
        }
        return d;
    }

    /** The Pekko settings of a node, over {@code base}. */
    Config pekko(Config base) {
        Map<String, Object> m = new HashMap<>(ClusterTls.settings(base));
        m.put("pekko.actor.provider", "cluster");
        m.put("pekko.remote.artery.canonical.hostname", hostname);
        m.put("pekko.remote.artery.canonical.port", port);
        m.put("pekko.cluster.seed-nodes", seedNodes);
        m.put("pekko.cluster.jmx.multi-mbeans-in-same-jvm", "on");
        // Unreachable nodes are downed by the split-brain resolver; their jobs then move.
        m.put("pekko.cluster.downing-provider-class", "org.apache.pekko.cluster.sbr.SplitBrainResolverProvider");
        m.put("pekko.cluster.split-brain-resolver.active-strategy", downingStrategy);
        m.put("pekko.cluster.split-brain-resolver.lease-majority.lease-implementation", "blockferry.cluster.sbr-lease");
        m.put("pekko.cluster.split-brain-resolver.stable-after", stableAfter.toMillis() + "ms");
        m.put("pekko.cluster.down-removal-margin", removalMargin.toMillis() + "ms");
        m.put("pekko.cluster.failure-detector.heartbeat-interval", heartbeatInterval.toMillis() + "ms");
        m.put("pekko.cluster.failure-detector.acceptable-heartbeat-pause", heartbeatPause.toMillis() + "ms");
        // Job shards are not remembered (JobActor.init): the survivors wake a removed member's
        // jobs (JobWaker), a node's start the unfinished ones. No durable ddata keys (no LMDB).
        m.put("pekko.cluster.sharding.distributed-data.durable.keys", List.of());
        m.put("pekko.cluster.sharding.rebalance-interval", "2s");
        m.put("pekko.cluster.sharding.entity-restart-backoff", "2s");
        m.put("pekko.cluster.sharding.retry-interval", "1s");
        return ConfigFactory.parseMap(m).withFallback(base);
    }
}
