package org.blockferry.api.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.MediaTypes;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.CacheControl;
import org.apache.pekko.http.javadsl.model.headers.CacheDirectives;
import org.apache.pekko.http.javadsl.model.headers.Connection;
import org.apache.pekko.http.javadsl.model.headers.Location;
import org.apache.pekko.http.javadsl.model.headers.RetryAfter;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.stream.Materializer;
import org.blockferry.api.node.Node;
import org.blockferry.engine.actor.JobReply;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.job.JobDocument;
import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.job.JobSpecReader;
import org.blockferry.engine.job.JobState;
import org.blockferry.engine.source.vmware.VcenterException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP API (v1), the live page and the node's probes. Every route is listed in
 * {@link #ROUTES}, which the OpenAPI document must match. Job queries read the read side; only
 * submit and cancel talk to the job actors. {@link ApiGuards} checks every request first.
 */
final class ApiRoutes extends AllDirectives {
    private static final Logger log = LoggerFactory.getLogger(ApiRoutes.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Seconds a client told 429 should wait before it asks again. */
    private static final long RETRY_AFTER_SECONDS = 30;
    /** Every route, as "METHOD path" with {id} for the job id (checked against openapi.json). */
    static final List<String> ROUTES = List.of(
            "POST /api/v1/jobs", "GET /api/v1/jobs", "GET /api/v1/jobs/{id}", "POST /api/v1/jobs/{id}/cancel",
            "GET /api/v1/jobs/{id}/events", "POST /api/v1/replication/start", "GET /api/v1/progress/{id}",
            "GET /api/v1/cluster", "GET /api/v1/openapi.json", "GET /health", "GET /ready", "GET /metrics", "GET /");
    static final List<String> JOB_STATUSES = List.of("queued", "running", "cancelling", "completed", "failed",
            "cancelled");
    private static final String WEB = "org/blockferry/api/web";
    /** How long a GET right after a submission waits for the read side to have the job. */
    private static final Duration READ_SIDE_LAG = Duration.ofSeconds(3);

    private final Node node;
    private final JobEventStream events;
    private final ApiMetrics metrics;
    private final Executor blocking;
    /** Where vCenter is asked for a whole-VM job's disks: the disk-setup threads, not the API's JDBC ones. */
    private final Executor vcenterCalls;
    /** How long that may take: the answer must come before Pekko's request-timeout answers for us. */
    private final Duration vcenterBudget;
    private final ApiGuards guards;
    private final JobAdmission admission;
    private final StreamSlots streams;
    private final int maxDisks;

    ApiRoutes(Node node, HttpSettings settings, HostCheck hosts, JobEventStream events, ApiMetrics metrics) {
        this.node = node;
        this.events = events;
        this.metrics = metrics;
        ActorSystem<?> system = node.system();
        this.blocking = system.dispatchers().lookup(DispatcherSelector.blocking());
        this.vcenterCalls = node.copyEnvironment().blocking();
        this.vcenterBudget = vcenterBudget(system.settings().config());
        this.guards = new ApiGuards(settings, hosts, Materializer.matFromSystem(system));
        this.admission = new JobAdmission(node.queries(), settings.limits().maxQueuedJobs());
        this.streams = new StreamSlots(system, settings.sse().maxConnections());
        this.maxDisks = settings.limits().maxDisksPerJob();
    }

    Route routes() {
        return handleExceptions(ApiErrors.exceptions(), () -> handleRejections(ApiErrors.rejections(),
                () -> withRequestTimeoutResponse(ApiErrors::requestTimeout, () -> guards.hostAllowed(() -> concat(
                        path("health", () -> get(() -> complete(ApiErrors.json(StatusCodes.OK,
                                Map.of("status", "ok"))))),
                        path("ready", () -> get(this::ready)),
                        path("metrics", () -> get(this::metrics)),
                        pathPrefix("api", () -> guards.authenticated(() -> pathPrefix("v1", this::v1))),
                        pathSingleSlash(() -> get(() -> getFromResource(WEB + "/index.html",
                                ContentTypes.TEXT_HTML_UTF8))),
                        pathPrefix("static", () -> get(() -> getFromResourceDirectory(WEB))))))));
    }

    private Route v1() {
        return concat(
                pathPrefix("jobs", () -> concat(
                        pathEndOrSingleSlash(() -> concat(post(() -> guards.jsonBody(this::submit)), get(this::list))),
                        pathPrefix(PathMatchers.segment(), id -> concat(
                                pathEnd(() -> get(() -> job(id))),
                                path("cancel", () -> post(() -> guards.jsonBody(body -> cancel(id, body)))),
                                path("events", () -> get(() -> events(id))))))),
                path(PathMatchers.segment("replication").slash("start"),
                        () -> post(() -> guards.jsonBody(this::submit))),
                path(PathMatchers.segment("progress").slash(PathMatchers.segment()), id -> get(() -> progress(id))),
                path("cluster", () -> get(this::cluster)),
                path("openapi.json", () -> get(() -> getFromResource("org/blockferry/api/http/openapi.json",
                        ContentTypes.APPLICATION_JSON))));
    }

    // ---- jobs ----

    private CompletionStage<HttpResponse> submit(byte[] body) {
        JobSpec read;
        JobSpec spec = null;
        try {
            read = JobSpecReader.read(body, maxDisks);
            if (!read.wholeVm()) {
                spec = read.validated();
            } else {
                read.validatedWholeVm(); // every other field, before vCenter is asked
            }
        } catch (InvalidInputException e) {
            return CompletableFuture.completedFuture(invalid(e));
        }
        return spec != null ? admit(spec) : submitWholeVm(read);
    }

    /**
     * A whole-VM job: its VM's disks listed by vCenter, then submitted as a job that lists them.
     * An answer that comes too late is dropped (the client was told 503): nothing is submitted.
     */
    private CompletionStage<HttpResponse> submitWholeVm(JobSpec read) {
        CompletableFuture<JobSpec> expanded = CompletableFuture.supplyAsync(() -> {
            try {
                return node.wholeVmJobs().expand(read, maxDisks).validated();
            } catch (VcenterException e) {
                throw new CompletionException(e);
            }
        }, vcenterCalls).orTimeout(vcenterBudget.toMillis(), TimeUnit.MILLISECONDS);
        return expanded.handle((spec, failure) -> {
            if (failure == null) {
                return admit(spec);
            }
            Throwable e = failure instanceof CompletionException && failure.getCause() != null
                    ? failure.getCause() : failure;
            if (e instanceof InvalidInputException invalid) {
                return CompletableFuture.completedFuture(invalid(invalid));
            }
            if (e instanceof TimeoutException) {
                e = new VcenterException(VcenterException.Kind.UNREACHABLE, "vCenter " + read.source().vcenter()
                        + " did not list the disks of VM '" + read.source().vm() + "' within "
                        + vcenterBudget.toSeconds() + " s", e);
            }
            if (e instanceof VcenterException vcenter) {
                log.warn("event=whole-vm-refused vcenter={} vm={} kind={} error={}", read.source().vcenter(),
                        read.source().vm(), vcenter.kind(), vcenter.getMessage());
                return CompletableFuture.completedFuture(ApiErrors.vcenter(vcenter));
            }
            return CompletableFuture.<HttpResponse>failedFuture(e);
        }).thenCompose(response -> response);
    }

    /** Pekko's {@code request-timeout} less a margin for the rest of the submission; 60 s when it is off. */
    static Duration vcenterBudget(com.typesafe.config.Config config) {
        String key = "pekko.http.server.request-timeout";
        if (!config.hasPath(key) || config.getString(key).trim().equals("infinite")) {
            return Duration.ofSeconds(60);
        }
        Duration timeout = config.getDuration(key);
        return Duration.ofMillis(Math.max(1000, timeout.toMillis() * 3 / 4));
    }

    /** A validated spec, admitted when the node has room, submitted to its job entity. */
    private CompletionStage<HttpResponse> admit(JobSpec spec) {
        return query(admission::tryReserve).thenCompose(room -> {
            if (!room) {
                log.info("event=job-refused reason=max-queued max={}", admission.max());
                return CompletableFuture.completedFuture(tooMany("this node has " + admission.max()
                        + " unfinished jobs, its limit (blockferry.jobs.max-queued); submit again later",
                        "blockferry.jobs.max-queued"));
            }
            CompletionStage<JobReply> submitted;
            try {
                submitted = node.jobs().submit(spec);
            } catch (RuntimeException e) {
                admission.release(null);
                throw e;
            }
            return submitted.whenComplete((reply, e) -> admission.release(reply instanceof JobReply.Accepted
                    ? spec.jobId() : null)).thenApply(reply -> accepted(spec, reply));
        });
    }

    private static HttpResponse accepted(JobSpec spec, JobReply reply) {
        if (reply instanceof JobReply.Rejected r) {
            return rejected(r, r.field() != null ? r.field() : "job_id");
        }
        JobState state = ((JobReply.Accepted) reply).state();
        String location = "/api/v1/jobs/" + spec.jobId();
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("job_id", spec.jobId());
        body.put("status", state.status().json());
        body.put("location", location);
        body.put("events", location + "/events");
        return ApiErrors.json(StatusCodes.ACCEPTED, body).addHeader(Location.create(location));
    }

    private static HttpResponse tooMany(String message, String field) {
        return ApiErrors.error(StatusCodes.TOO_MANY_REQUESTS, message, field)
                .addHeader(RetryAfter.create(RETRY_AFTER_SECONDS));
    }

    private Route list() {
        return parameterMap(params -> {
            String status = params.get("status");
            if (status != null && !JOB_STATUSES.contains(status)) {
                return complete(ApiErrors.error(StatusCodes.BAD_REQUEST, "status: '" + status + "' is not a job status"
                        + " (" + String.join(", ", JOB_STATUSES) + ")", "status"));
            }
            int limit;
            int offset;
            try {
                limit = intParam(params, "limit", 50, 1, 1000);
                offset = intParam(params, "offset", 0, 0, Integer.MAX_VALUE);
            } catch (InvalidInputException e) {
                return complete(invalid(e));
            }
            for (String name : params.keySet()) {
                if (!List.of("status", "limit", "offset").contains(name)) {
                    return complete(ApiErrors.error(StatusCodes.BAD_REQUEST, name + ": unknown query parameter"
                            + " (status, limit, offset)", name));
                }
            }
            return completeWithFuture(query(() -> {
                List<Object> jobs = new ArrayList<>();
                for (JobDocument doc : node.queries().list(status, limit, offset)) {
                    jobs.add(JobDocuments.summary(doc)); // GET /api/v1/jobs/{id} has the disks
                }
                Map<String, Object> page = new LinkedHashMap<>();
                page.put("jobs", jobs);
                page.put("limit", limit);
                page.put("offset", offset);
                page.put("count", jobs.size());
                return ApiErrors.json(StatusCodes.OK, page);
            }));
        });
    }

    private static int intParam(Map<String, String> params, String name, int dflt, int min, int max) {
        String v = params.get(name);
        if (v == null) {
            return dflt;
        }
        try {
            int n = Integer.parseInt(v.trim());
            if (n < min || n > max) {
                throw new InvalidInputException(name, "must be between " + min + " and " + max + ", got " + n);
            }
            return n;
        } catch (NumberFormatException e) {
            throw new InvalidInputException(name, "'" + v + "' is not a whole number");
        }
    }

    private Route job(String id) {
        return completeWithFuture(document(id).thenApply(doc -> doc
                .map(d -> ApiErrors.json(StatusCodes.OK, JobDocuments.of(d)))
                .orElseGet(() -> unknownJob(id))));
    }

    private Route progress(String id) {
        return completeWithFuture(document(id).thenApply(doc -> doc
                .map(d -> ApiErrors.json(StatusCodes.OK, JobDocuments.progressAlias(d)))
                .orElseGet(() -> unknownJob(id))));
    }

    /**
     * The job's document from the read side. Right after a submission the projection may not have
     * it yet: when the job actor knows the job, wait (briefly) for it instead of answering 404.
     */
    private CompletionStage<Optional<JobDocument>> document(String id) {
        return query(() -> node.queries().get(id)).thenCompose(row -> {
            if (row.isPresent()) {
                return CompletableFuture.completedFuture(row);
            }
            return exists(id).thenCompose(known -> known ? awaitRow(id, System.nanoTime() + READ_SIDE_LAG.toNanos())
                    : CompletableFuture.completedFuture(Optional.empty()));
        });
    }

    private CompletionStage<Optional<JobDocument>> awaitRow(String id, long deadline) {
        return query(() -> {
            Thread.sleep(50);
            return node.queries().get(id);
        }).thenCompose(row -> row.isPresent() || System.nanoTime() > deadline
                ? CompletableFuture.completedFuture(row) : awaitRow(id, deadline));
    }

    private CompletionStage<Boolean> exists(String id) {
        return node.jobs().get(id).thenApply(s -> s.status() != JobState.JobStatus.NEW);
    }

    /** Cancel takes an empty body or {@code {}}: JSON all the same, so that no cross-site form can send it. */
    private CompletionStage<HttpResponse> cancel(String id, byte[] body) {
        String field = fieldOfCancelBody(body);
        if (field != null) {
            return CompletableFuture.completedFuture(ApiErrors.error(StatusCodes.BAD_REQUEST, field.equals("body")
                    ? "must be empty or {} (a cancel takes no fields)" : "unknown field (a cancel takes no fields)",
                    field));
        }
        return node.jobs().cancel(id).thenApply(reply -> {
            if (reply instanceof JobReply.Rejected r) {
                return rejected(r, "id");
            }
            JobState state = ((JobReply.Accepted) reply).state();
            return ApiErrors.json(StatusCodes.ACCEPTED, JobDocuments.state(state));
        });
    }

    /** Null for an empty body or {@code {}}; else the field at fault. */
    private static String fieldOfCancelBody(byte[] body) {
        if (new String(body, StandardCharsets.UTF_8).isBlank()) {
            return null;
        }
        try {
            JsonNode node = JSON.readTree(body);
            if (node != null && node.isObject()) {
                return node.isEmpty() ? null : node.fieldNames().next();
            }
        } catch (IOException e) {
            // not JSON: named as the body below
        }
        return "body";
    }

    private Route events(String id) {
        return optionalHeaderValueByName("Last-Event-ID", lastEventId -> {
            long from;
            try {
                from = lastEventId.map(v -> parseEventId(v.trim())).orElse(-1L);
            } catch (InvalidInputException e) {
                return complete(invalid(e));
            }
            long start = from;
            return completeWithFuture(exists(id).thenApply(known -> known ? stream(id, start) : unknownJob(id)));
        });
    }

    private HttpResponse stream(String id, long from) {
        var held = streams.tryHold(events.subscribe(id, from));
        if (held == null) {
            log.info("event=stream-refused reason=max-connections max={}", streams.max());
            return tooMany("this node serves " + streams.max() + " event streams, its limit"
                    + " (blockferry.http.sse.max-connections); connect again later",
                    "blockferry.http.sse.max-connections").addHeader(Connection.create("close"));
        }
        return HttpResponse.create().withStatus(StatusCodes.OK)
                .addHeader(CacheControl.create(CacheDirectives.NO_CACHE))
                .withEntity(HttpEntities.create(ContentTypes.create(MediaTypes.TEXT_EVENT_STREAM), held));
    }

    private static long parseEventId(String v) {
        try {
            long n = Long.parseLong(v);
            if (n < 0) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException e) {
            throw new InvalidInputException("Last-Event-ID", "'" + v + "' is not an event id of this API"
                    + " (a non-negative whole number)");
        }
    }

    // ---- the cluster ----

    /** The members as this node sees them, and what each runs (the read side's counts). */
    private Route cluster() {
        return completeWithFuture(query(() -> {
            org.apache.pekko.cluster.typed.Cluster cluster = org.apache.pekko.cluster.typed.Cluster.get(node.system());
            return ApiErrors.json(StatusCodes.OK, ClusterMembers.document(cluster.state(),
                    cluster.selfMember().address(), node.queries().load()));
        }));
    }

    // ---- probes ----

    private Route ready() {
        return completeWithFuture(query(() -> {
            try (var c = node.database().dataSource().getConnection(); var s = c.createStatement()) {
                s.execute("SELECT 1");
            }
            boolean up = org.apache.pekko.cluster.typed.Cluster.get(node.system()).selfMember().status()
                    == org.apache.pekko.cluster.MemberStatus.up();
            return up;
        }).handle((up, failure) -> {
            if (failure != null) {
                // the cause stays in our log: a probe is open to anyone who can connect
                log.warn("event=ready-check-failed error={}", rootMessage(failure));
                return unavailable("database unavailable");
            }
            return up ? ApiErrors.json(StatusCodes.OK, Map.of("status", "ready"))
                    : unavailable("this node has not joined its cluster yet");
        }));
    }

    private static HttpResponse unavailable(String message) {
        Map<String, Object> error = new LinkedHashMap<>();
        error.put("code", ApiErrors.code(StatusCodes.SERVICE_UNAVAILABLE));
        error.put("message", message);
        error.put("field", null);
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("status", "unavailable");
        body.put("error", error);
        return ApiErrors.json(StatusCodes.SERVICE_UNAVAILABLE, body);
    }

    private Route metrics() {
        return completeWithFuture(CompletableFuture.supplyAsync(() -> {
            try {
                return HttpResponse.create().withEntity(ContentTypes.TEXT_PLAIN_UTF8, metrics.scrape());
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }, blocking));
    }

    // ---- helpers ----

    private interface Query<T> {
        T run() throws SQLException, InterruptedException;
    }

    /** JDBC off the server's threads. */
    private <T> CompletionStage<T> query(Query<T> query) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return query.run();
            } catch (SQLException e) {
                throw new IllegalStateException("read side: " + e.getMessage(), e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted", e);
            }
        }, blocking);
    }

    private static HttpResponse invalid(InvalidInputException e) {
        return ApiErrors.error(StatusCodes.BAD_REQUEST, e.getMessage(), e.field());
    }

    private static HttpResponse unknownJob(String id) {
        return ApiErrors.error(StatusCodes.NOT_FOUND, "no job '" + id + "'", "id");
    }

    private static HttpResponse rejected(JobReply.Rejected r, String field) {
        return switch (r.reason()) {
            case INVALID -> ApiErrors.error(StatusCodes.BAD_REQUEST, r.message(), field);
            case CONFLICT, LOCATION_IN_USE -> ApiErrors.error(StatusCodes.CONFLICT, r.message(), field);
            case UNKNOWN_JOB -> ApiErrors.error(StatusCodes.NOT_FOUND, r.message(), "id");
            case ALREADY_FINISHED -> ApiErrors.error(StatusCodes.CONFLICT, r.message(), "id");
        };
    }

    private static String rootMessage(Throwable t) {
        Throwable e = t;
        while (e.getCause() != null) {
            e = e.getCause();
        }
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }
}
