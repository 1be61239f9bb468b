package org.blockferry.engine.source.qemu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.blockferry.engine.endpoint.LocalExport;
import org.blockferry.engine.plan.CopyMode;
import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.source.ChangeToken;
import org.blockferry.engine.source.SourceRequest;
import org.blockferry.nbd.testing.QemuNbdServer;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.Test;

/** The bitmap chain of a qcow2 source across syncs, with qemu-img's own view of the image. */
class Qcow2SourceTest {
    private static final String TARGET = "file:/copies/disk0.img";
    private static final String FINGERPRINT = "ino:42";

    @Test
    void aSyncResumedAfterItsTokenWasRecordedKeepsTheBitmapItLeaves() throws Exception {
        Path dir = TestPeers.scratchDirectory("qcow2-source-");
        String qemuImg = TestPeers.require("qemu-img", "qemu-utils");
        Path image = dir.resolve("disk.qcow2");
        QemuNbdServer.run(qemuImg, "create", "-q", "-f", "qcow2", image.toString(), "4M");
        LocalExport.Tools tools = LocalExport.Tools.fromConfig(ConfigFactory.load()).withSocketRoot(dir);
        String family = BitmapNames.family(TARGET);

        Qcow2Source s1 = Qcow2Source.open(request("s1", image, Optional.empty()), image, tools);
        assertEquals(CopyMode.FULL, s1.mode(), s1.modeReason());
        ChangeToken first = s1.changeToken(4L << 20, FINGERPRINT).orElseThrow();
        completed(s1);
        ChangeToken second;
        try (Qcow2Source s = Qcow2Source.open(request("s2", image, Optional.of(first)), image, tools)) {
            assertEquals(since(family, "s1"), s.modeReason());
            second = s.changeToken(4L << 20, FINGERPRINT).orElseThrow();
            // the token is recorded, then the process dies before the job completes: no completed()
        }
        assertEquals(List.of(BitmapNames.forJob(family, "s1"), BitmapNames.forJob(family, "s2")), bitmaps(qemuImg, image));

        Qcow2Source resumed = Qcow2Source.open(request("s2", image, Optional.of(second)), image, tools);
        assertEquals(since(family, "s2"), resumed.modeReason(), "the resumed sync copies the changes since the token"
                + " it recorded");
        assertEquals(second, resumed.changeToken(4L << 20, FINGERPRINT).orElseThrow());
        completed(resumed);
        assertEquals(List.of(BitmapNames.forJob(family, "s2")), bitmaps(qemuImg, image),
                "the recorded token's bitmap stays, the superseded one is gone");

        Qcow2Source s3 = Qcow2Source.open(request("s3", image, Optional.of(second)), image, tools);
        assertEquals(since(family, "s2"), s3.modeReason());
        completed(s3);
        assertEquals(List.of(BitmapNames.forJob(family, "s3")), bitmaps(qemuImg, image));
    }

    /** As the disk's actor ends a sync: the export closes, then the source cleans up. */
    private static void completed(Qcow2Source source) {
        source.close();
        source.completed();
    }

    private static String since(String family, String job) {
        return "changes since the sync that left bitmap '" + BitmapNames.forJob(family, job) + "'";
    }

    private static SourceRequest request(String jobId, Path image, Optional<ChangeToken> previous) {
        return new SourceRequest(jobId, new JobSpec.Disk("d0", image.toString(), "/copies/disk0.img"),
                new JobSpec.Source("qemu"), CopyMode.AUTO, false, previous, TARGET, FINGERPRINT);
    }

    private static List<String> bitmaps(String qemuImg, Path image) throws Exception {
        return QemuImg.of(qemuImg, "image", image).info().bitmaps().stream().map(QemuImg.Bitmap::name).sorted().toList();
    }
}
