package org.blockferry.api.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.blockferry.engine.actor.JobReply;
import org.blockferry.engine.job.JobDocument;
import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.job.JobState;
import org.blockferry.engine.plan.CopyMode;
import org.blockferry.nbd.testing.DiskChecksum;
import org.blockferry.nbd.testing.NbdkitServer;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** A job from submission to completion, on H2 and on PostgreSQL. */
class JobLifecycleTest {

    @ParameterizedTest
    @EnumSource(TestDatabases.Kind.class)
    void twoDiskJobCompletesAndTheReadSideTellsTheTruth(TestDatabases.Kind db) throws Exception {
        Path dir = TestPeers.scratchDirectory("life-");
        try (NbdkitServer s1 = NbdkitServer.start(dir, "sparse-random", "size=48M", "percent=40", "seed=1");
             NbdkitServer s2 = NbdkitServer.start(dir, "sparse-random", "size=32M", "percent=70", "seed=2");
             NbdkitServer t1 = NbdkitServer.start(dir, "memory", "size=48M");
             NbdkitServer t2 = NbdkitServer.start(dir, "memory", "size=32M");
             Node node = NodeFixture.start(dir, TestDatabases.create(db, dir), Map.of())) {
            JobSpec spec = new JobSpec("life-" + db, "web-01", null, List.of(
                    new JobSpec.Disk("disk0", s1.uri(), t1.uri()), new JobSpec.Disk("disk1", s2.uri(), t2.uri())),
                    CopyMode.AUTO, null).validated();
            JobReply reply = node.jobs().submit(spec).toCompletableFuture().get(30, TimeUnit.SECONDS);
            assertInstanceOf(JobReply.Accepted.class, reply);
            JobState done = NodeFixture.awaitFinal(node, spec.jobId(), Duration.ofMinutes(2));
            assertEquals(JobState.JobStatus.COMPLETED, done.status(), String.valueOf(done.error()));
            assertEquals(DiskChecksum.ofUri(s1.uri()), DiskChecksum.ofUri(t1.uri()));
            assertEquals(DiskChecksum.ofUri(s2.uri()), DiskChecksum.ofUri(t2.uri()));

            JobDocument row = NodeFixture.awaitReadSide(node, spec.jobId(), Duration.ofSeconds(30));
            assertEquals("completed", row.status());
            assertEquals(100.0, row.progressPercent());
            long planned = row.disks().stream().mapToLong(JobDocument.Disk::totalBytes).sum();
            assertEquals(planned, row.totalBytes(), "job total is the sum of the disks");
            assertEquals(row.totalBytes(), row.bytesTransferred());
            assertTrue(row.totalBytes() < (80L << 20), "total is the allocated data, not the capacity: " + row);
            for (JobDocument.Disk d : row.disks()) {
                assertEquals("completed", d.status());
                assertEquals(d.totalBytes(), d.bytesWritten() + d.bytesZeroed());
                assertEquals(d.capacity(), d.totalBytes() + d.bytesSkipped());
                assertEquals(100.0, d.progressPercent());
                assertEquals("full", d.mode());
                assertNotNull(d.modeReason());
            }
            JobReply again = node.jobs().submit(spec).toCompletableFuture().get(30, TimeUnit.SECONDS);
            assertInstanceOf(JobReply.Accepted.class, again, "the same spec under the same id is the same job");
        }
    }
}
