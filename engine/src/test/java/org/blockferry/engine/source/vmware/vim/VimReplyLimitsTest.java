package org.blockferry.engine.source.vmware.vim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a peer that pretends to be vCenter can do to the node with its replies: nothing. The peer
 * is the test's own small HTTP server (vcsim answers like vCenter, which is not the point here):
 * an endless reply, a reply announcing gigabytes, and replies with a DOCTYPE (an external entity
 * naming a file of the node; entities that expand a billion times).
 */
class VimReplyLimitsTest {
    private static final long BOUND = 1 << 20;
    private static final String ENVELOPE_START = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
            + "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body>"
            + "<RetrieveServiceContentResponse xmlns=\"urn:vim25\"><returnval>";

    private HttpServer server;
    private ExecutorService threads;
    private final AtomicLong written = new AtomicLong();

    /** Serves {@code /sdk} with {@code handler}, on loopback; returns the SDK URL. */
    private URI serve(Handler handler) throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        threads = Executors.newCachedThreadPool();
        server.setExecutor(threads);
        server.createContext("/sdk", exchange -> {
            try (exchange) {
                exchange.getRequestBody().readAllBytes();
                exchange.getResponseHeaders().set("Content-Type", "text/xml; charset=utf-8");
                handler.answer(exchange);
            } catch (IOException gone) {
                // the client stopped reading: what the bound is for
            }
        });
        server.start();
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/sdk");
    }

    interface Handler {
        void answer(HttpExchange exchange) throws IOException;
    }

    @AfterEach
    void stop() {
        if (server != null) {
            server.stop(0);
            threads.shutdownNow();
            server = null;
        }
    }

    private static VimClient connect(URI sdk) throws IOException {
        return VimClient.connect(sdk, VsphereCredentials.of("bf", "s3cret"), null, BOUND);
    }

    @Test
    void anEndlessReplyFailsTheCallOnceTheBoundIsRead() throws Exception {
        URI sdk = serve(exchange -> {
            exchange.sendResponseHeaders(200, 0); // chunked, no end
            OutputStream out = exchange.getResponseBody();
            out.write(ENVELOPE_START.getBytes(StandardCharsets.UTF_8));
            byte[] more = "<about><fullName>vCenter</fullName></about>".repeat(1000).getBytes(StandardCharsets.UTF_8);
            while (true) {
                out.write(more);
                written.addAndGet(more.length);
            }
        });
        InvalidInputException e = assertTimeoutPreemptively(Duration.ofSeconds(60),
                () -> assertThrows(InvalidInputException.class, () -> connect(sdk)));
        assertEquals("blockferry.vmware.max-reply-bytes", e.field());
        assertEquals("blockferry.vmware.max-reply-bytes: the reply of " + sdk + " to RetrieveServiceContent is longer"
                + " than 1048576 bytes (stopped reading there); a genuine vCenter's reply this long needs a larger"
                + " blockferry.vmware.max-reply-bytes", e.getMessage());
        Thread.sleep(500); // the server notices the closed connection
        long sent = written.get();
        Thread.sleep(500);
        assertEquals(sent, written.get(), "the server can send no more: the connection is closed");
        assertTrue(sent < 32L << 20, "the node read about the bound, not what the peer sent: " + sent + " bytes");
    }

    @Test
    void aReplyAnnouncingMoreThanTheBoundIsRefusedBeforeItIsRead() throws Exception {
        URI sdk = serve(exchange -> {
            exchange.sendResponseHeaders(200, 10L << 30);
            exchange.getResponseBody().write(ENVELOPE_START.getBytes(StandardCharsets.UTF_8));
            exchange.getResponseBody().flush();
            try {
                Thread.sleep(60_000); // and never more
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        InvalidInputException e = assertTimeoutPreemptively(Duration.ofSeconds(30),
                () -> assertThrows(InvalidInputException.class, () -> connect(sdk)));
        assertTrue(e.getMessage().contains("it announced 10737418240 bytes"), e.getMessage());
    }

    @Test
    void anExternalEntityIsNeverReadAndTheReplyIsRefused(@TempDir Path dir) throws Exception {
        Path secret = Files.writeString(dir.resolve("node-secret"), "BLOCKFERRY_DB_PASSWORD=Zq7-node-secret\n");
        for (String entity : new String[] {"SYSTEM \"" + secret.toUri() + "\"", "SYSTEM \"" + secret + "\""}) {
            String reply = "<?xml version=\"1.0\"?><!DOCTYPE soapenv:Envelope [<!ENTITY leak " + entity + ">]>"
                    + "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body>"
                    + "<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>&leak;</faultstring>"
                    + "</soapenv:Fault></soapenv:Body></soapenv:Envelope>";
            URI sdk = serve(exchange -> {
                byte[] body = reply.getBytes(StandardCharsets.UTF_8);
                exchange.sendResponseHeaders(500, body.length);
                exchange.getResponseBody().write(body);
            });
            IOException e = assertThrows(IOException.class, () -> connect(sdk));
            assertFalse(e instanceof VimFault, "not read as vCenter's fault: " + e);
            assertTrue(e.getMessage().contains("has a DOCTYPE"), e.getMessage());
            for (Throwable t = e; t != null; t = t.getCause()) {
                assertFalse(String.valueOf(t.getMessage()).contains("Zq7-node-secret"), "the file leaked: " + t);
            }
            stop();
        }
    }

    @Test
    void entitiesThatExpandABillionTimesAreNeverExpanded() throws Exception {
        StringBuilder dtd = new StringBuilder("<!DOCTYPE lolz [<!ENTITY lol0 \"lol\">");
        for (int i = 1; i < 10; i++) {
            dtd.append("<!ENTITY lol").append(i).append(" \"").append(("&lol" + (i - 1) + ";").repeat(10))
                    .append("\">");
        }
        String reply = "<?xml version=\"1.0\"?>" + dtd + "]>" + ENVELOPE_START + "<about><apiVersion>&lol9;"
                + "</apiVersion></about></returnval></RetrieveServiceContentResponse></soapenv:Body></soapenv:Envelope>";
        URI sdk = serve(exchange -> {
            byte[] body = reply.getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
        });
        IOException e = assertTimeoutPreemptively(Duration.ofSeconds(30),
                () -> assertThrows(IOException.class, () -> connect(sdk)));
        assertTrue(e.getMessage().contains("has a DOCTYPE"), e.getMessage());
    }
}
