package org.blockferry.api.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.cluster.sharding.ShardRegion;
import org.apache.pekko.cluster.sharding.typed.ClusterShardingQuery;
import org.apache.pekko.cluster.sharding.typed.GetClusterShardingStats;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.blockferry.engine.actor.JobActor;
import org.blockferry.engine.actor.JobReply;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.job.JobSettings;
import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.job.JobState;
import org.blockferry.engine.plan.CopyMode;
import org.blockferry.nbd.testing.DiskChecksum;
import org.blockferry.nbd.testing.NbdkitServer;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.Test;

/**
 * A job that has ended leaves memory, and its shard leaves the coordinator's state: the shards of
 * a node do not grow with every job it ever ran. The job comes back when it is asked for.
 */
class JobShardRetirementTest {

    @Test
    void theShardsOfEndedJobsAreRetiredAndTheJobsComeBackWhenAskedFor() throws Exception {
        Path dir = TestPeers.scratchDirectory("retire-");
        try (NbdkitServer source = NbdkitServer.start(dir, "sparse-random", "size=16M", "percent=50", "seed=9");
             NbdkitServer t0 = NbdkitServer.start(dir, "memory", "size=16M");
             NbdkitServer t1 = NbdkitServer.start(dir, "memory", "size=16M");
             NbdkitServer t2 = NbdkitServer.start(dir, "memory", "size=16M");
             Node node = NodeFixture.start(dir, TestDatabases.create(TestDatabases.Kind.H2, dir),
                     Map.of("blockferry.jobs.passivate-after", "2s"))) {
            List<NbdkitServer> targets = List.of(t0, t1, t2);
            for (int i = 0; i < targets.size(); i++) {
                JobSpec spec = new JobSpec("retire-" + i, "vm-" + i, null, List.of(
                        new JobSpec.Disk("d0", source.uri(), targets.get(i).uri())), CopyMode.AUTO, null).validated();
                assertInstanceOf(JobReply.Accepted.class,
                        node.jobs().submit(spec).toCompletableFuture().get(30, TimeUnit.SECONDS));
            }
            String expected = DiskChecksum.ofUri(source.uri());
            for (int i = 0; i < targets.size(); i++) {
                JobState done = NodeFixture.awaitFinal(node, "retire-" + i, Duration.ofMinutes(1));
                assertEquals(JobState.JobStatus.COMPLETED, done.status(), String.valueOf(done.error()));
                assertEquals(expected, DiskChecksum.ofUri(targets.get(i).uri()), "target " + i);
            }
            Map<String, Integer> before = jobShards(node);
            for (int i = 0; i < targets.size(); i++) {
                assertEquals(1, before.get("retire-" + i), "the ended job is still in memory: " + before);
            }

            long deadline = System.nanoTime() + Duration.ofSeconds(45).toNanos();
            Map<String, Integer> now = jobShards(node);
            while (!now.isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(250);
                now = jobShards(node);
            }
            assertEquals(Map.of(), now, "every ended job's shard was retired");

            JobState back = node.jobs().get("retire-1").toCompletableFuture().get(30, TimeUnit.SECONDS);
            assertEquals(JobState.JobStatus.COMPLETED, back.status(), "the job answers again, from its journal");
            assertEquals(Map.of("retire-1", 1), jobShards(node), "its shard is back, with the job in it");
        }
    }

    @Test
    void aPassivationShorterThanOneSecondIsRefusedNamingTheKey() {
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> new JobSettings(1, 0,
                Duration.ofMinutes(1), Duration.ofSeconds(1), Duration.ofSeconds(2), 50, Duration.ofMillis(200), 8,
                Duration.ofSeconds(5)));
        assertEquals("blockferry.jobs.passivate-after", e.field());
        assertTrue(e.getMessage().contains("at least 1s"), e.getMessage());
    }

    /** Every shard of the job entities in the cluster, with how many entities it holds. */
    private static Map<String, Integer> jobShards(Node node) throws Exception {
        ShardRegion.ClusterShardingStats stats = AskPattern.<ClusterShardingQuery, ShardRegion.ClusterShardingStats>ask(
                        ClusterSharding.get(node.system()).shardState(),
                        replyTo -> new GetClusterShardingStats(JobActor.TYPE_KEY, Duration.ofSeconds(5), replyTo),
                        Duration.ofSeconds(10), node.system().scheduler())
                .toCompletableFuture().get(15, TimeUnit.SECONDS);
        Map<String, Integer> shards = new HashMap<>();
        stats.getRegions().values().forEach(region -> region.getStats()
                .forEach((shard, entities) -> shards.put(shard, ((Number) entities).intValue())));
        return shards;
    }
}
