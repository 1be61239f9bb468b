package org.blockferry.api.http;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;
import org.blockferry.engine.job.JobDocument;
import org.blockferry.nbd.NbdRequestObserver;
import org.blockferry.persistence.readside.JobQueries;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's metrics in Prometheus text format: jobs by status, each recent disk's byte counters
 * and retries (from the read side, at scrape time), the latency of every NBD request and its
 * errors (from the event loops), and the JVM's.
 */
final class ApiMetrics implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ApiMetrics.class);
    /** Jobs whose disks are exported per scrape: the most recently updated ones. */
    private static final int RECENT_JOBS = 100;
    private static final List<String> STATUSES = List.of("queued", "running", "cancelling", "completed", "failed",
            "cancelled");

    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final JobQueries queries;
    /** The disks' figures of the scrape in progress: read once, shared by the two disk metrics. */
    private volatile List<JobDocument> figures = List.of();
    private final PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();

    ApiMetrics(JobQueries queries) {
        this.queries = queries;
        JvmMetrics.builder().register(registry);
        Histogram latency = Histogram.builder().name("blockferry_nbd_request_seconds")
                .help("Time from sending an NBD request to its reply, by operation")
                .labelNames("operation").classicOnly()
                .classicUpperBounds(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                        1, 2.5, 5, 10, 30)
                .register(registry);
        Counter errors = Counter.builder().name("blockferry_nbd_request_errors_total")
                .help("NBD requests the server answered with an error, by operation")
                .labelNames("operation").register(registry);
        NbdRequestObserver.install((operation, nanos, ok) -> {
            latency.labelValues(operation).observe(nanos / 1e9);
            if (!ok) {
                errors.labelValues(operation).inc();
            }
        });
        GaugeWithCallback.builder().name("blockferry_jobs").help("Jobs by status (read side)")
                .labelNames("status").callback(cb -> {
                    Map<String, Long> counts = read(queries::countByStatus, Map.of());
                    for (String s : STATUSES) {
                        cb.call(counts.getOrDefault(s, 0L), s);
                    }
                }).register(registry);
        GaugeWithCallback.builder().name("blockferry_disk_bytes")
                .help("Bytes of each disk of the " + RECENT_JOBS + " most recently updated jobs: total (planned),"
                        + " transferred, written, zeroed, skipped, zero_sent (sent as NBD zero)")
                .labelNames("job", "disk", "kind").callback(cb -> {
                    for (JobDocument j : figures) {
                        for (JobDocument.Disk d : j.disks()) {
                            cb.call(d.totalBytes(), j.jobId(), d.id(), "total");
                            cb.call(d.bytesTransferred(), j.jobId(), d.id(), "transferred");
                            cb.call(d.bytesWritten(), j.jobId(), d.id(), "written");
                            cb.call(d.bytesZeroed(), j.jobId(), d.id(), "zeroed");
                            cb.call(d.bytesSkipped(), j.jobId(), d.id(), "skipped");
                            cb.call(d.bytesZeroSent(), j.jobId(), d.id(), "zero_sent");
                        }
                    }
                }).register(registry);
        GaugeWithCallback.builder().name("blockferry_disk_retries")
                .help("Restarts and retried requests of each disk of the most recently updated jobs")
                .labelNames("job", "disk").callback(cb -> {
                    for (JobDocument j : figures) {
                        for (JobDocument.Disk d : j.disks()) {
                            cb.call(d.retries(), j.jobId(), d.id());
                        }
                    }
                }).register(registry);
    }

    /** The text exposition of every metric. */
    synchronized byte[] scrape() throws IOException {
        figures = read(() -> queries.recent(RECENT_JOBS), List.of());
        ByteArrayOutputStream out = new ByteArrayOutputStream(16384);
        writer.write(out, registry.scrape());
        return out.toByteArray();
    }

    @Override
    public void close() {
        NbdRequestObserver.install(NbdRequestObserver.NONE);
    }

    private interface Query<T> {
        T run() throws SQLException;
    }

    private static <T> T read(Query<T> query, T fallback) {
        try {
            return query.run();
        } catch (SQLException e) {
            log.warn("event=metrics-query-failed error={}", e.toString());
            return fallback;
        }
    }
}
