package org.blockferry.api.node;

import static org.blockferry.api.node.VmwareSyncJobTest.DS_PREFIX;
import static org.blockferry.api.node.VmwareSyncJobTest.USER;
import static org.blockferry.api.node.VmwareSyncJobTest.assertTargetsEqualImages;
import static org.blockferry.api.node.VmwareSyncJobTest.sync;
import static org.blockferry.api.node.VmwareSyncJobTest.vcenter;
import static org.blockferry.api.node.VmwareSyncJobTest.vm;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.blockferry.api.http.ApiFixture;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.job.JobDocument;
import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.plan.CopyMode;
import org.blockferry.engine.source.vmware.testing.TestCertificates;
import org.blockferry.engine.source.vmware.testing.Vcsim;
import org.blockferry.nbd.testing.TestPeers;
import org.junit.jupiter.api.Test;

/**
 * Jobs reach only the vCenters configured on the node, by name: what a client that holds the
 * API token can and cannot make the node do with vCenter credentials. The peers: vcsim for a
 * vCenter, and the test's own small https server for a host that pretends to be one.
 */
class NamedVcentersTest {
    /** Where the refused jobs say they would write (allowed: the refusals are about the vCenter). */
    private static final String TARGET = "/var/tmp/bf-vcenters-never-written.img";
    private static final String VC = "blockferry.vmware.vcenters.";

    /** Two vCenters the node knows but this test never reaches: refused jobs must not need them. */
    private static Map<String, Object> twoVcenters(Path dir) throws Exception {
        Path password = Files.writeString(dir.resolve("vc.password"), "never-sent\n");
        Map<String, Object> m = new HashMap<>();
        m.put("blockferry.storage.allowed-roots", List.of(dir.toString(), "/var/tmp"));
        for (String name : List.of("vc1", "vc2")) {
            m.put(VC + name + ".url", "https://" + name + ".example.invalid/sdk");
            m.put(VC + name + ".user", "migrate@vsphere.local");
            m.put(VC + name + ".password-file", password.toString());
            m.put(VC + name + ".thumbprint", "ab".repeat(32));
        }
        return m;
    }

    private static String job(String source) {
        return "{\"job_id\": \"j1\", \"vm\": \"web01\", \"source\": {" + source + "}, \"disks\": [{\"id\": \"d0\","
                + " \"source\": \"2000\", \"target\": \"" + TARGET + "\"}]}";
    }

    @Test
    void aJobThatSaysWhereOrHowToLogInOrNamesAnUnknownVcenterIsABadRequest() throws Exception {
        Path dir = TestPeers.scratchDirectory("vcenters-api-");
        try (ApiFixture api = ApiFixture.start(dir, TestDatabases.Kind.H2, null, twoVcenters(dir))) {
            Map<String, String> old = Map.of(
                    "url", "\"https://attacker.example/sdk\"",
                    "user", "\"administrator@vsphere.local\"",
                    "password_file", "\"/etc/blockferry/db.password\"",
                    "password_env", "\"BLOCKFERRY_API_TOKEN\"",
                    "thumbprint", "\"" + "cd".repeat(32) + "\"",
                    "insecure", "true");
            for (Map.Entry<String, String> field : old.entrySet()) {
                for (String source : List.of("\"kind\": \"vmware\", \"vcenter\": \"vc1\", \"vm\": \"DC0/vm/web01\", ",
                        "\"kind\": \"vmware\", \"vm\": \"DC0/vm/web01\", ")) {
                    HttpResponse<String> r = api.postJson("/api/v1/jobs", job(source + "\"" + field.getKey() + "\": "
                            + field.getValue()));
                    assertEquals(400, r.statusCode(), r.body());
                    JsonNode error = ApiFixture.json(r).path("error");
                    assertEquals("source." + field.getKey(), error.path("field").asText(), r.body());
                    assertEquals("source." + field.getKey() + ": jobs name a vCenter configured on the node"
                            + " (source.vcenter); see blockferry.vmware.vcenters", error.path("message").asText());
                }
            }
            HttpResponse<String> unknown = api.postJson("/api/v1/jobs", job("\"kind\": \"vmware\", \"vcenter\":"
                    + " \"vc9\", \"vm\": \"DC0/vm/web01\""));
            assertEquals(400, unknown.statusCode(), unknown.body());
            JsonNode error = ApiFixture.json(unknown).path("error");
            assertEquals("source.vcenter", error.path("field").asText());
            assertEquals("source.vcenter: 'vc9' is not a vCenter of this node (configured: vc1, vc2)",
                    error.path("message").asText(), "names only: no URL, user or file of the node");
            HttpResponse<String> none = api.postJson("/api/v1/jobs", job("\"kind\": \"vmware\", \"vm\": \"DC0/vm/x\""));
            assertEquals(400, none.statusCode(), none.body());
            assertEquals("source.vcenter", ApiFixture.json(none).path("error").path("field").asText());
            assertEquals(404, api.get("/api/v1/jobs/j1").statusCode(), "no job was made of any of them");
        }
    }

    @Test
    void aNodeWithAPlainHttpOrAnUnallowedInsecureVcenterDoesNotStart() throws Exception {
        Path dir = TestPeers.scratchDirectory("vcenters-start-");
        Map<String, Object> valid = twoVcenters(dir);
        record Bad(String key, Object value, String named) {
        }
        for (Bad bad : List.of(new Bad(VC + "vc1.url", "http://vc1.example.invalid/sdk", VC + "vc1.url"),
                new Bad(VC + "vc2.insecure", true, VC + "vc2.insecure"))) {
            Map<String, Object> config = new HashMap<>(valid);
            config.put(bad.key(), bad.value());
            if (bad.key().endsWith("insecure")) {
                config.remove(VC + "vc2.thumbprint");
            }
            Path nodeDir = Files.createDirectories(dir.resolve("node-" + bad.named().replace('.', '-')));
            InvalidInputException e = assertThrows(InvalidInputException.class, () -> NodeFixture.start(nodeDir,
                    TestDatabases.create(TestDatabases.Kind.H2, nodeDir), config).close());
            assertEquals(bad.named(), e.field(), e.getMessage());
        }
        Map<String, Object> allowed = new HashMap<>(valid);
        allowed.remove(VC + "vc2.thumbprint");
        allowed.put(VC + "vc2.insecure", true);
        allowed.put("blockferry.vmware.allow-insecure", true);
        Path nodeDir = Files.createDirectories(dir.resolve("node-allowed"));
        NodeFixture.start(nodeDir, TestDatabases.create(TestDatabases.Kind.H2, nodeDir), allowed).close();
    }

    /**
     * A host that pretends to be vCenter answers with an endless reply, or with a DOCTYPE whose
     * entity names a file of the node: each job fails clearly, nothing of the file leaks, and the
     * node goes on to copy from a real vCenter.
     */
    @Test
    void aPeerThatAnswersEndlesslyOrWithEntitiesFailsItsJobAndTheNodeGoesOn() throws Exception {
        Path dir = TestPeers.scratchDirectory("vcenters-peer-");
        Path secret = Files.writeString(dir.resolve("node-secret"), "Zq7-node-file-content\n");
        ExecutorService threads = Executors.newCachedThreadPool();
        HttpsServer peer = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        try (Vcsim vcsim = Vcsim.secure(USER, VmwareSyncJobTest.PASSWORD)) {
            peer.setHttpsConfigurator(new HttpsConfigurator(serverContext(TestCertificates.serverKeyStore(dir, "peer"))));
            peer.setExecutor(threads);
            peer.createContext("/endless/sdk", exchange -> {
                try (exchange; InputStream in = exchange.getRequestBody()) {
                    in.readAllBytes();
                    exchange.getResponseHeaders().set("Content-Type", "text/xml; charset=utf-8");
                    exchange.sendResponseHeaders(200, 0);
                    OutputStream out = exchange.getResponseBody();
                    out.write("<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">"
                            .getBytes(StandardCharsets.UTF_8));
                    byte[] more = "<soapenv:Body>".repeat(4096).getBytes(StandardCharsets.UTF_8);
                    while (true) {
                        out.write(more);
                    }
                } catch (java.io.IOException closed) {
                    // the node stopped reading
                }
            });
            peer.createContext("/entities/sdk", exchange -> {
                try (exchange; InputStream in = exchange.getRequestBody()) {
                    in.readAllBytes();
                    byte[] body = ("<?xml version=\"1.0\"?><!DOCTYPE e [<!ENTITY leak SYSTEM \"" + secret.toUri()
                            + "\">]><soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">"
                            + "<soapenv:Body><soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>&leak;"
                            + "</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>")
                            .getBytes(StandardCharsets.UTF_8);
                    exchange.getResponseHeaders().set("Content-Type", "text/xml; charset=utf-8");
                    exchange.sendResponseHeaders(500, body.length);
                    exchange.getResponseBody().write(body);
                }
            });
            peer.start();
            String base = "https://127.0.0.1:" + peer.getAddress().getPort();
            String thumbprint = TestCertificates.sha256Thumbprint(URI.create(base));
            Map<String, Object> config = vcenter(vcsim, dir, Map.of("blockferry.vmware.max-reply-bytes", "1MiB"));
            for (String name : List.of("endless", "entities")) {
                config.put(VC + name + ".url", base + "/" + name + "/sdk");
                config.put(VC + name + ".user", USER);
                config.put(VC + name + ".password-file", dir.resolve("vc-password").toString());
                config.put(VC + name + ".thumbprint", thumbprint);
            }
            try (Node node = NodeFixture.start(dir, TestDatabases.create(TestDatabases.Kind.H2, dir), config)) {
                VmwareSyncJobTest.Vm vm = vm(vcsim, dir);
                JobDocument endless = sync(node, vm.job("endless", CopyMode.AUTO, "endless", Vcsim.VM_PATH));
                assertEquals("failed", endless.status());
                assertTrue(endless.error().contains("blockferry.vmware.max-reply-bytes: the reply of " + base
                        + "/endless/sdk to RetrieveServiceContent is longer than 1048576 bytes"), endless.error());

                JobDocument entities = sync(node, vm.job("entities", CopyMode.AUTO, "entities", Vcsim.VM_PATH));
                assertEquals("failed", entities.status());
                assertTrue(entities.error().contains("has a DOCTYPE"), entities.error());
                assertFalse(entities.error().contains("Zq7-node-file-content"), "the node's file leaked: "
                        + entities.error());

                JobDocument real = sync(node, vm.job("real", CopyMode.AUTO));
                assertEquals("completed", real.status(), real.error());
                assertTargetsEqualImages(vm);
                assertEquals(0, vcsim.snapshots(Vcsim.VM));
                assertEquals(JobSpec.Source.vmware("vc1", Vcsim.VM_PATH, Map.of(DS_PREFIX, dir.resolve("ds") + "/")),
                        node.jobs().get("real").toCompletableFuture().get().spec().source());
            }
        } finally {
            peer.stop(0);
            threads.shutdownNow();
        }
    }

    private static SSLContext serverContext(Path keyStore) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(keyStore)) {
            ks.load(in, TestCertificates.storePassword());
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, TestCertificates.storePassword());
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(kmf.getKeyManagers(), null, null);
        return context;
    }
}
