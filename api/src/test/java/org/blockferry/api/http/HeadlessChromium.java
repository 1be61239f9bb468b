package org.blockferry.api.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.blockferry.nbd.testing.NbdkitServer;

/**
 * A real headless Chromium for page tests, driven by Debian's chromedriver over the W3C
 * WebDriver protocol (plain JSON over HTTP, so nothing is ever downloaded). Close it to end the
 * session, the browser and chromedriver.
 */
final class HeadlessChromium implements AutoCloseable {
    static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
    private static final String ELEMENT = "element-6066-11e4-a52e-4f735466cecf";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Process driver;
    private final Path log;
    private final String base;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    private String session;

    private HeadlessChromium(Process driver, Path log, int port) {
        this.driver = driver;
        this.log = log;
        this.base = "http://127.0.0.1:" + port;
    }

    /** Starts chromedriver on a free port and opens a browser session; profile and logs go to {@code dir}. */
    static HeadlessChromium start(Path dir) throws IOException {
        for (Path program : List.of(CHROMIUM, CHROMEDRIVER)) {
            if (!Files.isExecutable(program)) {
                throw new AssertionError(program + " is needed by the web page test but not installed; install it"
                        + " with: apt-get install -y chromium chromium-driver (or run scripts/test, which does)");
            }
        }
        int port = NbdkitServer.freePort();
        Path log = dir.resolve("chromedriver.log");
        Process p = new ProcessBuilder(CHROMEDRIVER.toString(), "--port=" + port, "--log-path=" + log)
                .redirectErrorStream(true).redirectOutput(dir.resolve("chromedriver.out").toFile()).start();
        HeadlessChromium browser = new HeadlessChromium(p, log, port);
        try {
            browser.awaitDriver();
            browser.newSession(dir.resolve("chromium-profile"));
            return browser;
        } catch (RuntimeException | Error e) {
            browser.close();
            throw e;
        }
    }

    private void awaitDriver() {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < deadline) {
            if (!driver.isAlive()) {
                throw new AssertionError("chromedriver exited at start: " + logText());
            }
            try {
                if (call("GET", "/status", null).path("ready").asBoolean()) {
                    return;
                }
            } catch (RuntimeException e) {
                // not listening yet
            }
            sleep(50);
        }
        throw new AssertionError("chromedriver was not ready within 20 s: " + logText());
    }

    private void newSession(Path profile) {
        Map<String, Object> chrome = Map.of("binary", CHROMIUM.toString(), "args", List.of(
                "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,900", "--user-data-dir=" + profile, "--no-first-run",
                "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--lang=en-US"));
        JsonNode value = call("POST", "/session", Map.of("capabilities", Map.of("alwaysMatch",
                Map.of("browserName", "chrome", "goog:chromeOptions", chrome))));
        session = value.path("sessionId").asText(null);
        if (session == null) {
            throw new AssertionError("chromedriver opened no session: " + value);
        }
    }

    // ---- the page ----

    void open(String url) {
        command("POST", "/url", Map.of("url", url));
    }

    /** Types {@code text} into the element (after clearing it), as a user would. */
    void type(String css, String text) {
        String element = find(css);
        command("POST", "/element/" + element + "/clear", Map.of());
        command("POST", "/element/" + element + "/value", Map.of("text", text));
    }

    void click(String css) {
        command("POST", "/element/" + find(css) + "/click", Map.of());
    }

    /** The id of the first element matching {@code css}; fails when there is none. */
    String find(String css) {
        return command("POST", "/element", Map.of("using", "css selector", "value", css)).path(ELEMENT).asText();
    }

    /** Runs {@code body} as a function in the page; {@code arguments[i]} are the args. */
    JsonNode script(String body, Object... args) {
        return command("POST", "/execute/sync", Map.of("script", body, "args", List.of(args)));
    }

    /** The text of the first element matching {@code css}, or null when there is none. */
    String text(String css) {
        JsonNode v = script("const e = document.querySelector(arguments[0]); return e ? e.textContent : null;", css);
        return v.isNull() ? null : v.asText();
    }

    boolean visible(String css) {
        return script("const e = document.querySelector(arguments[0]);"
                + " return !!e && !e.hidden && e.getClientRects().length > 0;", css).asBoolean();
    }

    /** Saves a PNG of the whole page (the window grows to the page's height first). */
    void screenshot(Path png) throws IOException {
        for (int i = 0; i < 3; i++) {
            // the window's height includes the browser's own bars: grow it by what the page lacks
            JsonNode sizes = script("return [document.documentElement.scrollHeight, window.innerHeight,"
                    + " window.outerHeight];");
            int missing = sizes.get(0).asInt() - sizes.get(1).asInt();
            if (missing <= 0) {
                break;
            }
            command("POST", "/window/rect", Map.of("width", 1280, "height",
                    Math.min(sizes.get(2).asInt() + missing, 4000)));
        }
        String data = command("GET", "/screenshot", null).asText();
        Files.createDirectories(png.toAbsolutePath().getParent());
        Files.write(png, Base64.getDecoder().decode(data));
    }

    /** Polls {@code condition} every 50 ms until it holds; fails with {@code what} and the page's text. */
    void await(String what, Duration timeout, BooleanSupplier condition) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (condition.getAsBoolean()) {
                return;
            }
            sleep(50);
        }
        throw new AssertionError("the page did not show " + what + " within " + timeout + "; page text:\n"
                + text("body"));
    }

    // ---- protocol ----

    private JsonNode command(String method, String path, Object body) {
        if (session == null) {
            throw new IllegalStateException("no browser session");
        }
        return call(method, "/session/" + session + path, body);
    }

    /** One WebDriver call: its {@code value}, or an AssertionError with the driver's error. */
    private JsonNode call(String method, String path, Object body) {
        try {
            HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base + path))
                    .timeout(Duration.ofSeconds(60));
            if (body == null) {
                request.method(method, HttpRequest.BodyPublishers.noBody());
            } else {
                request.header("Content-Type", "application/json; charset=utf-8")
                        .method(method, HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body)));
            }
            HttpResponse<String> response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
            JsonNode value = JSON.readTree(response.body()).path("value");
            if (response.statusCode() != 200) {
                throw new AssertionError("WebDriver " + method + " " + path + " failed (" + response.statusCode()
                        + "): " + value.path("error").asText() + ": " + value.path("message").asText());
            }
            return value;
        } catch (IOException e) {
            throw new IllegalStateException("WebDriver " + method + " " + path + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    private String logText() {
        try {
            return Files.exists(log) ? Files.readString(log) : "(no chromedriver log)";
        } catch (IOException e) {
            return "(chromedriver log unreadable: " + e + ")";
        }
    }

    @Override
    public void close() {
        List<ProcessHandle> children = driver.descendants().toList();
        try {
            if (session != null) {
                call("DELETE", "/session/" + session, null);
            }
        } catch (RuntimeException | Error e) {
            // the processes are ended below either way
        } finally {
            session = null;
            driver.destroy();
            try {
                if (!driver.waitFor(10, TimeUnit.SECONDS)) {
                    driver.destroyForcibly();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            children.stream().filter(ProcessHandle::isAlive).forEach(ProcessHandle::destroyForcibly);
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }
}
