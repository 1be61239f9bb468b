package org.blockferry.api.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;
import org.blockferry.api.node.TestDatabases;
import org.blockferry.engine.job.JobDocument;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.Test;

/** The OpenAPI document describes exactly the routes the server has, and each answers a status it documents. */
class OpenApiTest {
    /**
     * What each route answers, documented, to the request the test sends: the token, job id
     * {@code no-such-job}, and {@code {}} as the body of a POST (a job spec without its fields).
     */
    private static final Map<String, Integer> ANSWER = Map.ofEntries(
            Map.entry("POST /api/v1/jobs", 400), Map.entry("GET /api/v1/jobs", 200),
            Map.entry("GET /api/v1/jobs/{id}", 404), Map.entry("POST /api/v1/jobs/{id}/cancel", 404),
            Map.entry("GET /api/v1/jobs/{id}/events", 404), Map.entry("POST /api/v1/replication/start", 400),
            Map.entry("GET /api/v1/progress/{id}", 404), Map.entry("GET /api/v1/cluster", 200),
            Map.entry("GET /api/v1/openapi.json", 200), Map.entry("GET /health", 200), Map.entry("GET /ready", 200),
            Map.entry("GET /metrics", 200), Map.entry("GET /", 200));

    @Test
    void everyRouteIsDocumentedAndEveryDocumentedRouteExists() throws Exception {
        Path dir = TestPeers.scratchDirectory("api-openapi-");
        try (ApiFixture api = ApiFixture.start(dir, TestDatabases.Kind.H2, null, Map.of())) {
            HttpResponse<String> r = api.get("/api/v1/openapi.json");
            assertEquals(200, r.statusCode());
            JsonNode doc = ApiFixture.json(r);
            assertTrue(doc.path("openapi").asText().startsWith("3."), "an OpenAPI 3 document");
            Set<String> documented = new TreeSet<>();
            doc.path("paths").fields().forEachRemaining(path -> path.getValue().fieldNames().forEachRemaining(
                    method -> documented.add(method.toUpperCase() + " " + path.getKey())));
            assertEquals(new TreeSet<>(ApiRoutes.ROUTES), documented);
            assertEquals(new TreeSet<>(ApiRoutes.ROUTES), ANSWER.keySet(), "each route has its expected answer");
            awaitClusterUp(api); // a started node is ready: /ready answers 200, not its documented 503
            for (String route : ApiRoutes.ROUTES) {
                String method = route.substring(0, route.indexOf(' '));
                String path = route.substring(route.indexOf(' ') + 1);
                int expected = ANSWER.get(route);
                assertTrue(doc.path("paths").path(path).path(method.toLowerCase()).path("responses")
                        .has(Integer.toString(expected)), route + " documents " + expected);
                HttpRequest.Builder b = api.request(path.replace("{id}", "no-such-job"))
                        .header("Content-Type", "application/json");
                b.method(method, method.equals("POST") ? HttpRequest.BodyPublishers.ofString("{}")
                        : HttpRequest.BodyPublishers.noBody());
                HttpResponse<String> answer = api.send(b.build());
                assertEquals(expected, answer.statusCode(), route + ": " + answer.body());
                if (expected == 404) {
                    // the route exists: its own 404 names the job, a missing route names nothing
                    assertEquals("id", ApiFixture.json(answer).path("error").path("field").asText(), route);
                }
            }
            JsonNode schemas = doc.path("components").path("schemas");
            Set<String> job = fields(schemas.path("JobSummary").path("properties"));
            job.add("disks");
            assertEquals(jsonFields(JobDocument.class), job, "the Job schema is the document every view shows");
            assertEquals(jsonFields(JobDocument.Disk.class), fields(schemas.path("Disk").path("properties")));
            JsonNode spec = doc.path("components").path("schemas").path("JobSpec");
            assertEquals(Set.of("job_id", "vm", "source", "mode", "disks", "options", "target_template", "target"),
                    fields(spec.path("properties")));
            JsonNode submit = doc.path("paths").path("/api/v1/jobs").path("post");
            for (String status : new String[] {"202", "400", "401", "408", "409", "413", "415", "421", "429",
                "502", "503"}) {
                assertTrue(submit.path("responses").has(status), "POST /api/v1/jobs documents " + status);
            }
            JsonNode events = doc.path("paths").path("/api/v1/jobs/{id}/events").path("get").path("responses");
            assertTrue(events.has("429") && events.has("421"), "the event stream documents its limit and Host");
        }
    }

    private static Set<String> jsonFields(Class<? extends Record> type) {
        Set<String> out = new TreeSet<>();
        for (var c : type.getRecordComponents()) {
            out.add(c.getAccessor().getAnnotation(com.fasterxml.jackson.annotation.JsonProperty.class) != null
                    ? c.getAccessor().getAnnotation(com.fasterxml.jackson.annotation.JsonProperty.class).value()
                    : c.getAnnotation(com.fasterxml.jackson.annotation.JsonProperty.class).value());
        }
        return out;
    }

    private static Set<String> fields(JsonNode node) {
        Set<String> out = new TreeSet<>();
        node.fieldNames().forEachRemaining(out::add);
        return out;
    }

    /** Waits (bounded) until the node is an Up member of its cluster, which /ready reports. */
    private static void awaitClusterUp(ApiFixture api) throws InterruptedException {
        Cluster cluster = Cluster.get(api.node.system());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (cluster.selfMember().status() != MemberStatus.up() && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertEquals(MemberStatus.up(), cluster.selfMember().status(), "the node joined its cluster");
    }
}
