package org.blockferry.api.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.persistence.PersistenceSettings;
import org.junit.jupiter.api.Test;

/** The cluster settings a node starts with: checked, each bad value refused naming its key. */
class ClusterSettingsTest {

    private static Config with(Map<String, Object> values) {
        return ConfigFactory.parseMap(values).withFallback(ConfigFactory.load());
    }

    @Test
    void theDefaultsMakeANodeOfItsOwnWithTheResolverOn() {
        ClusterSettings s = ClusterSettings.fromConfig(ConfigFactory.load());
        assertEquals(List.of(), s.seedNodes());
        assertEquals("keep-majority", s.downingStrategy());
        assertEquals(Duration.ofSeconds(7), s.stableAfter());
        Config pekko = s.pekko(ConfigFactory.load());
        assertEquals("org.apache.pekko.cluster.sbr.SplitBrainResolverProvider",
                pekko.getString("pekko.cluster.downing-provider-class"));
        assertEquals(List.of(), pekko.getList("pekko.cluster.sharding.distributed-data.durable.keys").unwrapped());
        assertEquals(Duration.ofSeconds(2), pekko.getDuration("pekko.cluster.down-removal-margin"));
        assertEquals("blockferry.cluster.sbr-lease",
                pekko.getString("pekko.cluster.split-brain-resolver.lease-majority.lease-implementation"));
    }

    @Test
    void seedNodesComeAsAListOrAsTheEnvironmentsCommaSeparatedString() {
        ClusterSettings s = ClusterSettings.fromConfig(with(Map.of("blockferry.cluster.seed-nodes",
                " pekko://blockferry@10.0.0.1:7355, pekko://blockferry@vma2:7355 ,")));
        assertEquals(List.of("pekko://blockferry@10.0.0.1:7355", "pekko://blockferry@vma2:7355"), s.seedNodes());
        s = ClusterSettings.fromConfig(with(Map.of("blockferry.cluster.seed-nodes",
                List.of("pekko://blockferry@vma1:7355"))));
        assertEquals(List.of("pekko://blockferry@vma1:7355"), s.seedNodes());
        assertEquals(List.of("pekko://blockferry@vma1:7355"),
                s.pekko(ConfigFactory.load()).getStringList("pekko.cluster.seed-nodes"));
    }

    @Test
    void badValuesAreRefusedNamingTheirKey() {
        Map<String, Object[]> bad = Map.of(
                "blockferry.cluster.seed-nodes", new Object[] {"http://vma1:7355", "pekko://other@vma1:7355",
                    "pekko://blockferry@vma1", "vma1:7355", "pekko://blockferry@:7355", "pekko://blockferry@vm a:7355",
                    List.of(7355),
                    Map.of("a", "b")},
                "blockferry.cluster.downing.strategy", new Object[] {"static-quorum", "", "keep-majority; rm -rf /"},
                "blockferry.cluster.downing.stable-after", new Object[] {"0s", "-5s", "soon"},
                "blockferry.cluster.downing.removal-margin", new Object[] {"0ms", "x"},
                "blockferry.cluster.failure-detector.acceptable-heartbeat-pause", new Object[] {"0s", "three"});
        for (Map.Entry<String, Object[]> e : bad.entrySet()) {
            for (Object value : e.getValue()) {
                InvalidInputException x = assertThrows(InvalidInputException.class,
                        () -> ClusterSettings.fromConfig(with(Map.of(e.getKey(), value))), e.getKey() + "=" + value);
                assertEquals(e.getKey(), x.field(), x.getMessage());
                assertTrue(!x.getMessage().isBlank(), x.getMessage());
            }
        }
    }

    /**
     * A one-shot command's node with no seed nodes is alone in its cluster and skips the leave's
     * phases at its exit; a serving node, and a one-shot command configured to join others, leave.
     */
    @Test
    void onlyAOneShotNodeAloneSkipsTheLeave() {
        PersistenceSettings h2 = PersistenceSettings.h2(Path.of(System.getProperty("java.io.tmpdir"), "unused"), 2);
        List<String> leave = List.of("cluster-leave", "cluster-exiting", "cluster-exiting-done", "cluster-shutdown");
        Config alone = Node.systemConfig(ConfigFactory.load(), h2, Node.Access.OPERATOR);
        Config serve = Node.systemConfig(ConfigFactory.load(), h2, Node.Access.SERVE);
        Config joining = Node.systemConfig(with(Map.of("blockferry.cluster.seed-nodes",
                List.of("pekko://blockferry@vma1:7355"))), h2, Node.Access.OPERATOR);
        for (String phase : leave) {
            assertEquals(false, enabled(alone, phase), phase + " of a one-shot node alone");
            assertEquals(true, enabled(serve, phase), phase + " of a serving node");
            assertEquals(true, enabled(joining, phase), phase + " of a one-shot node that joins others");
        }
        assertEquals(true, enabled(alone, "cluster-sharding-shutdown-region"), "its entities are still handed off");
    }

    private static boolean enabled(Config config, String phase) {
        String key = "pekko.coordinated-shutdown.phases." + phase + ".enabled";
        return !config.hasPath(key) || config.getBoolean(key);
    }
}
