package org.blockferry.api.http;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.function.Supplier;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.MediaTypes;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.CacheControl;
import org.apache.pekko.http.javadsl.model.headers.CacheDirectives;
import org.apache.pekko.http.javadsl.model.headers.HttpChallenge;
import org.apache.pekko.http.javadsl.model.headers.Location;
import org.apache.pekko.http.javadsl.model.headers.WWWAuthenticate;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.scaladsl.model.EntityStreamSizeException;
import org.apache.pekko.stream.Materializer;
import org.blockferry.api.node.Node;
import org.blockferry.engine.actor.JobReply;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.job.JobDocument;
import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.job.JobSpecReader;
import org.blockferry.engine.job.JobState;

/**
 * The HTTP API (v1), the live page and the node's probes. Every route is listed in
 * {@link #ROUTES}, which the OpenAPI document must match. Job queries read the read side; only
 * submit and cancel talk to the job actors.
 */
final class ApiRoutes extends AllDirectives {
    /** Every route, as "METHOD path" with {id} for the job id (checked against openapi.json). */
    static final List<String> ROUTES = List.of(
            "POST /api/v1/jobs", "GET /api/v1/jobs", "GET /api/v1/jobs/{id}", "POST /api/v1/jobs/{id}/cancel",
            "GET /api/v1/jobs/{id}/events", "POST /api/v1/replication/start", "GET /api/v1/progress/{id}",
            "GET /api/v1/openapi.json", "GET /health", "GET /ready", "GET /metrics", "GET /");
    static final List<String> JOB_STATUSES = List.of("queued", "running", "cancelling", "completed", "failed",
            "cancelled");
    private static final String WEB = "org/blockferry/api/web";
    /** How long a GET right after a submission waits for the read side to have the job. */
    private static final Duration READ_SIDE_LAG = Duration.ofSeconds(3);

    private final Node node;
    private final HttpSettings settings;
    private final JobEventStream events;
    private final ApiMetrics metrics;
    private final Executor blocking;
    private final Materializer materializer;
    private final byte[] tokenDigest;

    ApiRoutes(Node node, HttpSettings settings, JobEventStream events, ApiMetrics metrics) {
        this.node = node;
        this.settings = settings;
        this.events = events;
        this.metrics = metrics;
        ActorSystem<?> system = node.system();
        this.blocking = system.dispatchers().lookup(DispatcherSelector.blocking());
        this.materializer = Materializer.matFromSystem(system);
        this.tokenDigest = settings.token() == null ? null : sha256(settings.token());
    }

    Route routes() {
        return handleExceptions(ApiErrors.exceptions(), () -> handleRejections(ApiErrors.rejections(), () -> concat(
                path("health", () -> get(() -> complete(ApiErrors.json(StatusCodes.OK, Map.of("status", "ok"))))),
                path("ready", () -> get(this::ready)),
                path("metrics", () -> get(this::metrics)),
                pathPrefix("api", () -> authenticated(() -> pathPrefix("v1", this::v1))),
                pathSingleSlash(() -> get(() -> getFromResource(WEB + "/index.html", ContentTypes.TEXT_HTML_UTF8))),
                pathPrefix("static", () -> get(() -> getFromResourceDirectory(WEB))))));
    }

    private Route v1() {
        return concat(
                pathPrefix("jobs", () -> concat(
                        pathEndOrSingleSlash(() -> concat(post(this::submit), get(this::list))),
                        pathPrefix(PathMatchers.segment(), id -> concat(
                                pathEnd(() -> get(() -> job(id))),
                                path("cancel", () -> post(() -> cancel(id))),
                                path("events", () -> get(() -> events(id))))))),
                path(PathMatchers.segment("replication").slash("start"), () -> post(this::submit)),
                path(PathMatchers.segment("progress").slash(PathMatchers.segment()), id -> get(() -> progress(id))),
                path("openapi.json", () -> get(() -> getFromResource("org/blockferry/api/http/openapi.json",
                        ContentTypes.APPLICATION_JSON))));
    }

    // ---- auth ----

    /** Bearer token in constant time (digests compared, so not even the length leaks). */
    private Route authenticated(Supplier<Route> inner) {
        if (tokenDigest == null) {
            return inner.get();
        }
        return extractRequest(request -> {
            String presented = presentedToken(request);
            if (presented != null && MessageDigest.isEqual(tokenDigest, sha256(presented))) {
                return inner.get();
            }
            String why = presented == null ? "a bearer token is required (Authorization: Bearer TOKEN)"
                    : "the bearer token is not valid";
            return complete(ApiErrors.error(StatusCodes.UNAUTHORIZED, why, "Authorization")
                    .addHeader(WWWAuthenticate.create(HttpChallenge.create("Bearer", "blockferry"))));
        });
    }

    private static String presentedToken(HttpRequest request) {
        Optional<String> header = request.getHeader("Authorization").map(h -> h.value());
        if (header.isPresent()) {
            String v = header.get().trim();
            return v.regionMatches(true, 0, "Bearer ", 0, 7) ? v.substring(7).trim() : null;
        }
        return request.getUri().query().get("access_token").orElse(null);
    }

    private static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JVM has no SHA-256", e);
        }
    }

    // ---- jobs ----

    private Route submit() {
        return extractRequest(request -> {
            var type = request.entity().getContentType();
            if (!type.mediaType().equals(MediaTypes.APPLICATION_JSON)) {
                return complete(ApiErrors.error(StatusCodes.UNSUPPORTED_MEDIA_TYPE, "the body must be a job spec in"
                        + " JSON (Content-Type: application/json), got " + type.mediaType(), "Content-Type"));
            }
            var length = request.entity().getContentLengthOption();
            if (length.isPresent() && length.getAsLong() > settings.maxBodyBytes()) {
                return complete(tooLarge());
            }
            CompletionStage<HttpResponse> response = request.entity().withSizeLimit(settings.maxBodyBytes())
                    .toStrict(10_000, materializer)
                    .thenCompose(strict -> submit(strict.getData().toArray()))
                    .exceptionally(this::bodyFailure);
            return completeWithFuture(response);
        });
    }

    private CompletionStage<HttpResponse> submit(byte[] body) {
        JobSpec spec;
        try {
            spec = JobSpecReader.read(body).validated();
        } catch (InvalidInputException e) {
            return CompletableFuture.completedFuture(invalid(e));
        }
        return node.jobs().submit(spec).thenApply(reply -> {
            if (reply instanceof JobReply.Rejected r) {
                return rejected(r, r.field() != null ? r.field() : "job_id");
            }
            JobState state = ((JobReply.Accepted) reply).state();
            String location = "/api/v1/jobs/" + spec.jobId();
            Map<String, Object> body1 = new LinkedHashMap<>();
            body1.put("job_id", spec.jobId());
            body1.put("status", state.status().json());
            body1.put("location", location);
            body1.put("events", location + "/events");
            return ApiErrors.json(StatusCodes.ACCEPTED, body1).addHeader(Location.create(location));
        });
    }

    private HttpResponse bodyFailure(Throwable t) {
        for (Throwable e = t; e != null; e = e.getCause()) {
            if (e instanceof EntityStreamSizeException) {
                return tooLarge();
            }
        }
        throw t instanceof RuntimeException r ? r : new java.util.concurrent.CompletionException(t);
    }

    private HttpResponse tooLarge() {
        return ApiErrors.error(StatusCodes.PAYLOAD_TOO_LARGE, "the body is larger than "
                + settings.maxBodyBytes() + " bytes (blockferry.http.max-body)", "body");
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
                if (!List.of("status", "limit", "offset", "access_token").contains(name)) {
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

    private Route cancel(String id) {
        return completeWithFuture(node.jobs().cancel(id).thenApply(reply -> {
            if (reply instanceof JobReply.Rejected r) {
                return rejected(r, "id");
            }
            JobState state = ((JobReply.Accepted) reply).state();
            return ApiErrors.json(StatusCodes.ACCEPTED, JobDocuments.state(state));
        }));
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
            return completeWithFuture(exists(id).thenApply(known -> known
                    ? HttpResponse.create().withStatus(StatusCodes.OK)
                            .addHeader(CacheControl.create(CacheDirectives.NO_CACHE))
                            .withEntity(HttpEntities.create(ContentTypes.create(MediaTypes.TEXT_EVENT_STREAM),
                                    events.subscribe(id, start)))
                    : unknownJob(id)));
        });
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
                return ApiErrors.error(StatusCodes.SERVICE_UNAVAILABLE, "the database does not answer: "
                        + rootMessage(failure), null);
            }
            return up ? ApiErrors.json(StatusCodes.OK, Map.of("status", "ready"))
                    : ApiErrors.error(StatusCodes.SERVICE_UNAVAILABLE, "this node has not joined its cluster yet", null);
        }));
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
