package org.blockferry.api.http;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.blockferry.engine.job.JobDocument;
import org.blockferry.engine.job.JobState;

/**
 * A {@link JobDocument} as JSON objects: the document itself everywhere (API, event stream,
 * {@code blockferry job --json}), the seed's progress shape on its alias route only, and the
 * event stream's short {@code state} event.
 */
public final class JobDocuments {
    private static final ObjectMapper JSON = new ObjectMapper();

    private JobDocuments() {
    }

    /** The document as a JSON object (fields in the document's order). */
    public static Map<String, Object> of(JobDocument d) {
        return JSON.convertValue(d, new TypeReference<LinkedHashMap<String, Object>>() { });
    }

    /** The document of a job without its disks (one row of a list). */
    public static Map<String, Object> summary(JobDocument d) {
        Map<String, Object> m = of(d);
        m.remove("disks");
        return m;
    }

    /** The seed's progress document ({@code GET /api/v1/progress/{id}}): its names, from the one document. */
    public static Map<String, Object> progressAlias(JobDocument j) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("job_id", j.jobId());
        m.put("stage", j.status());
        m.put("percent", j.progressPercent());
        m.put("total_bytes", j.totalBytes());
        m.put("bytes_transferred", j.bytesTransferred());
        m.put("throughput_bps", j.throughputBps());
        m.put("eta_seconds", j.etaSeconds());
        m.put("error", j.error());
        List<Object> disks = new ArrayList<>();
        for (JobDocument.Disk d : j.disks()) {
            Map<String, Object> dm = new LinkedHashMap<>();
            dm.put("id", d.id());
            dm.put("stage", d.status());
            dm.put("percent", d.progressPercent());
            dm.put("total_bytes", d.totalBytes());
            dm.put("bytes_transferred", d.bytesTransferred());
            dm.put("throughput_bps", d.throughputBps());
            dm.put("eta_seconds", d.etaSeconds());
            dm.put("error", d.error());
            disks.add(dm);
        }
        m.put("disks", disks);
        return m;
    }

    /** The event stream's {@code state} event, and the answer to a cancel. */
    public static Map<String, Object> state(JobState s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("job_id", s.jobId());
        m.put("status", s.status().json());
        m.put("error", s.error());
        return m;
    }
}
