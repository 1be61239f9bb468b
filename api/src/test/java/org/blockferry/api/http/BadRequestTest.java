package org.blockferry.api.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.blockferry.api.node.TestDatabases;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Every bad request gets its status, our one error shape naming the field, no stack trace, and
 * changes nothing (no job is created).
 */
class BadRequestTest {
    private static final String DISK = "{\"id\": \"d0\", \"source\": \"nbd://127.0.0.1:10809/a\","
            + " \"target\": \"/var/tmp/bf-never-written.img\"}";

    /** A request and what it must get. {@code field} null: the response names no field. */
    private record Case(String name, String method, String path, String contentType, String body, int status,
                        String field) {
    }

    private static Case post(String name, String body, int status, String field) {
        return new Case(name, "POST", "/api/v1/jobs", "application/json", body, status, field);
    }

    private static String job(String fields) {
        return "{\"vm\": \"vm1\", \"disks\": [" + DISK + "]" + (fields.isEmpty() ? "" : ", " + fields) + "}";
    }

    private static List<Case> cases() {
        List<Case> c = new ArrayList<>();
        c.add(post("malformed JSON", "{\"vm\": ", 400, "body"));
        c.add(post("not an object", "[1, 2]", 400, "body"));
        c.add(post("empty body", "", 400, "body"));
        c.add(post("trailing garbage", job("") + " {}", 400, "body"));
        c.add(post("vm missing", "{\"disks\": [" + DISK + "]}", 400, "vm"));
        c.add(post("vm blank", "{\"vm\": \"  \", \"disks\": [" + DISK + "]}", 400, "vm"));
        c.add(post("vm a number", "{\"vm\": 42, \"disks\": [" + DISK + "]}", 400, "vm"));
        c.add(post("vm too long", "{\"vm\": \"" + "v".repeat(256) + "\", \"disks\": [" + DISK + "]}", 400, "vm"));
        c.add(post("disks missing", "{\"vm\": \"vm1\"}", 400, "disks"));
        c.add(post("disks empty", "{\"vm\": \"vm1\", \"disks\": []}", 400, "disks"));
        c.add(post("disks not an array", "{\"vm\": \"vm1\", \"disks\": {\"id\": \"d0\"}}", 400, "disks"));
        c.add(post("disk null", "{\"vm\": \"vm1\", \"disks\": [null]}", 400, "disks[0]"));
        c.add(post("disk id missing", "{\"vm\": \"vm1\", \"disks\": [{\"source\": \"/a.img\", \"target\": \"/b.img\"}]}",
                400, "disks[0].id"));
        c.add(post("disk id with a slash", "{\"vm\": \"vm1\", \"disks\": [{\"id\": \"a/b\", \"source\": \"/a.img\","
                + " \"target\": \"/b.img\"}]}", 400, "disks[0].id"));
        c.add(post("duplicate disk ids", "{\"vm\": \"vm1\", \"disks\": [" + DISK + ", " + DISK + "]}", 400,
                "disks[1].id"));
        c.add(post("source missing", "{\"vm\": \"vm1\", \"disks\": [{\"id\": \"d0\", \"target\": \"/b.img\"}]}", 400,
                "disks[0].source"));
        c.add(post("target missing", "{\"vm\": \"vm1\", \"disks\": [{\"id\": \"d0\", \"source\": \"/a.img\"}]}", 400,
                "disks[0].target"));
        c.add(post("malformed source URI", "{\"vm\": \"vm1\", \"disks\": [{\"id\": \"d0\", \"source\": \"nbd://\","
                + " \"target\": \"/b.img\"}]}", 400, "disks[0].source"));
        c.add(post("unsupported URI scheme", "{\"vm\": \"vm1\", \"disks\": [{\"id\": \"d0\", \"source\": \"http://x/y\","
                + " \"target\": \"/b.img\"}]}", 400, "disks[0].source"));
        c.add(post("bad target port", "{\"vm\": \"vm1\", \"disks\": [{\"id\": \"d0\", \"source\": \"/a.img\","
                + " \"target\": \"nbd://host:99999/x\"}]}", 400, "disks[0].target"));
        c.add(post("relative path", "{\"vm\": \"vm1\", \"disks\": [{\"id\": \"d0\", \"source\": \"disk.img\","
                + " \"target\": \"/b.img\"}]}", 400, "disks[0].source"));
        c.add(post("source a number", "{\"vm\": \"vm1\", \"disks\": [{\"id\": \"d0\", \"source\": 5,"
                + " \"target\": \"/b.img\"}]}", 400, "disks[0].source"));
        c.add(post("unknown top-level field", job("\"colour\": \"blue\""), 400, "colour"));
        c.add(post("unknown disk field", "{\"vm\": \"vm1\", \"disks\": [{\"id\": \"d0\", \"source\": \"/a.img\","
                + " \"target\": \"/b.img\", \"size\": 1}]}", 400, "disks[0].size"));
        c.add(post("unknown mode", job("\"mode\": \"sideways\""), 400, "mode"));
        c.add(post("incremental without change tracking", job("\"mode\": \"incremental\""), 400, "mode"));
        c.add(post("unknown source kind", job("\"source\": {\"kind\": \"hyperv\"}"), 400, "source.kind"));
        c.add(post("negative max_parallel_disks", job("\"options\": {\"max_parallel_disks\": -1}"), 400,
                "options.max_parallel_disks"));
        c.add(post("fractional max_parallel_disks", job("\"options\": {\"max_parallel_disks\": 1.5}"), 400,
                "options.max_parallel_disks"));
        c.add(post("verify a string", job("\"options\": {\"verify\": \"yes\"}"), 400, "options.verify"));
        c.add(post("unknown option", job("\"options\": {\"turbo\": true}"), 400, "options.turbo"));
        c.add(post("job id with spaces", job("\"job_id\": \"my job\""), 400, "job_id"));
        c.add(post("job id too long", job("\"job_id\": \"" + "j".repeat(65) + "\""), 400, "job_id"));
        c.add(new Case("wrong content type", "POST", "/api/v1/jobs", "text/plain", job(""), 415, "Content-Type"));
        c.add(new Case("form content type", "POST", "/api/v1/jobs", "application/x-www-form-urlencoded", "vm=x", 415,
                "Content-Type"));
        c.add(post("oversized body", job("\"vm_note\": \"" + "x".repeat(2 << 20) + "\""), 413, "body"));
        c.add(new Case("unknown job", "GET", "/api/v1/jobs/no-such-job", null, null, 404, "id"));
        c.add(new Case("unknown job's progress", "GET", "/api/v1/progress/no-such-job", null, null, 404, "id"));
        c.add(new Case("unknown job's events", "GET", "/api/v1/jobs/no-such-job/events", null, null, 404, "id"));
        c.add(new Case("cancel an unknown job", "POST", "/api/v1/jobs/no-such-job/cancel", "application/json", "", 404,
                "id"));
        c.add(new Case("unknown status filter", "GET", "/api/v1/jobs?status=sleeping", null, null, 400, "status"));
        c.add(new Case("limit zero", "GET", "/api/v1/jobs?limit=0", null, null, 400, "limit"));
        c.add(new Case("limit not a number", "GET", "/api/v1/jobs?limit=ten", null, null, 400, "limit"));
        c.add(new Case("negative offset", "GET", "/api/v1/jobs?offset=-5", null, null, 400, "offset"));
        c.add(new Case("unknown query parameter", "GET", "/api/v1/jobs?sort=name", null, null, 400, "sort"));
        c.add(new Case("unknown route", "GET", "/api/v1/nothing-here", null, null, 404, null));
        c.add(new Case("wrong method", "DELETE", "/api/v1/jobs", null, null, 405, null));
        c.add(new Case("wrong method on a job", "PUT", "/api/v1/jobs/x", "application/json", "{}", 405, null));
        c.add(new Case("a token in the query of a submission", "POST", "/api/v1/jobs?access_token=x",
                "application/json", job(""), 401, "access_token"));
        c.add(new Case("a token in the query of a list", "GET", "/api/v1/jobs?access_token=x", null, null, 401,
                "access_token"));
        c.add(new Case("the seed's submission as text", "POST", "/api/v1/replication/start", "text/plain", job(""), 415,
                "Content-Type"));
        c.add(new Case("cancel without a content type", "POST", "/api/v1/jobs/x/cancel", null, "", 415,
                "Content-Type"));
        c.add(new Case("cancel as a form", "POST", "/api/v1/jobs/x/cancel", "application/x-www-form-urlencoded", "a=b",
                415, "Content-Type"));
        c.add(new Case("cancel with a field", "POST", "/api/v1/jobs/x/cancel", "application/json", "{\"now\": 1}", 400,
                "now"));
        c.add(post("a key twice", job("\"vm\": \"vm2\""), 400, "vm"));
        c.add(post("nested 33 deep", job("\"x\": " + "[".repeat(33) + "]".repeat(33)), 400, "x" + "[0]".repeat(31)));
        c.add(post("a control character in a target", "{\"vm\": \"vm1\", \"disks\": [{\"id\": \"d0\", \"source\":"
                + " \"/a.img\", \"target\": \"/b\\n.img\"}]}", 400, "disks[0].target"));
        c.add(post("a 4097-character target", "{\"vm\": \"vm1\", \"disks\": [{\"id\": \"d0\", \"source\":"
                + " \"/a.img\", \"target\": \"/" + "b".repeat(4096) + "\"}]}", 400, "disks[0].target"));
        StringBuilder disks = new StringBuilder();
        for (int i = 0; i < 65; i++) {
            disks.append(i == 0 ? "" : ", ").append("{\"id\": \"d").append(i).append("\", \"source\": \"/a").append(i)
                    .append(".img\", \"target\": \"/b").append(i).append(".img\"}");
        }
        c.add(post("65 disks", "{\"vm\": \"vm1\", \"disks\": [" + disks + "]}", 400, "disks"));
        return c;
    }

    @ParameterizedTest
    @EnumSource(TestDatabases.Kind.class)
    void everyBadRequestGetsItsStatusAndFieldAndChangesNothing(TestDatabases.Kind db) throws Exception {
        Path dir = TestPeers.scratchDirectory("api-bad-");
        List<Case> cases = cases();
        assertTrue(cases.size() >= 30, "at least 30 distinct bad requests");
        try (ApiFixture api = ApiFixture.start(dir, db, null, Map.of())) {
            List<String> failures = new ArrayList<>();
            for (Case c : cases) {
                HttpRequest.Builder b = api.request(c.path());
                if (c.contentType() != null) {
                    b.header("Content-Type", c.contentType());
                }
                b.method(c.method(), c.body() == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(c.body()));
                HttpResponse<String> r;
                try {
                    r = api.send(b.build());
                } catch (java.io.IOException e) {
                    throw new AssertionError("case '" + c.name() + "': " + e, e);
                }
                JsonNode error = r.body().isEmpty() ? null : ApiFixture.json(r).path("error");
                String problem = null;
                if (r.statusCode() != c.status()) {
                    problem = "status " + r.statusCode();
                } else if (error == null || !error.path("code").isTextual() || error.path("message").asText().isEmpty()) {
                    problem = "not our error shape";
                } else if (c.field() == null ? !error.path("field").isNull()
                        : !c.field().equals(error.path("field").asText())) {
                    problem = "field " + error.path("field");
                } else if (r.body().contains("\tat ") || r.body().contains("Exception")) {
                    problem = "a stack trace or exception name";
                }
                if (problem != null) {
                    failures.add(c.name() + ": expected " + c.status() + "/" + c.field() + ", got " + problem + ": "
                            + r.body().substring(0, Math.min(300, r.body().length())));
                }
            }
            assertEquals(List.of(), failures);
            JsonNode page = ApiFixture.json(api.get("/api/v1/jobs"));
            assertEquals(0, page.path("count").asInt(), "no bad request created a job: " + page);
            assertFalse(java.nio.file.Files.exists(Path.of("/var/tmp/bf-never-written.img")), "nothing was written");
        }
    }
}
