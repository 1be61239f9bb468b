package org.blockferry.engine.source.vmware.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.blockferry.engine.source.vmware.Vcenter;
import org.blockferry.engine.source.vmware.vim.VimClient;
import org.blockferry.engine.source.vmware.vim.VimTls;
import org.blockferry.engine.source.vmware.vim.VsphereCredentials;

/**
 * The vSphere simulator with BlockFerry's CBT layer (engine/src/test/vcsim), built once with Go
 * into engine/target/vcsim and run as a child process on a free port.
 */
public final class Vcsim implements AutoCloseable {
    /** The simulated VM every test uses: powered on, CBT off, two disks. */
    public static final String VM = "DC0_H0_VM0";
    public static final String VM_PATH = "DC0/vm/" + VM;
    private static final String INSTALL = "apt-get install -y golang-go golang-github-vmware-govmomi-dev";
    private static final Path GOVMOMI = Path.of("/usr/share/gocode/src/github.com/vmware/govmomi/simulator");
    private static Path binary;

    private final Process process;
    private final URI sdk;
    private final String thumbprint;
    private final HttpClient http;

    private Vcsim(Process process, URI sdk, String thumbprint) {
        this.process = process;
        this.sdk = sdk;
        this.thumbprint = thumbprint;
        this.http = thumbprint == null ? HttpClient.newHttpClient()
                : HttpClient.newBuilder().sslContext(trustingAnyCertificate()).build();
    }

    /** The test endpoints of a -tls simulator: its own self-signed certificate, on loopback. */
    private static javax.net.ssl.SSLContext trustingAnyCertificate() {
        javax.net.ssl.X509TrustManager any = new javax.net.ssl.X509TrustManager() {
            @Override
            public void checkClientTrusted(java.security.cert.X509Certificate[] chain, String authType) {
            }

            @Override
            public void checkServerTrusted(java.security.cert.X509Certificate[] chain, String authType) {
            }

            @Override
            public java.security.cert.X509Certificate[] getAcceptedIssuers() {
                return new java.security.cert.X509Certificate[0];
            }
        };
        try {
            javax.net.ssl.SSLContext c = javax.net.ssl.SSLContext.getInstance("TLS");
            c.init(null, new javax.net.ssl.TrustManager[] {any}, null);
            return c;
        } catch (java.security.GeneralSecurityException e) {
            throw new AssertionError(e);
        }
    }

    /** Starts a simulator that accepts any user name and password. */
    public static Vcsim start() {
        return start(List.of());
    }

    /** Starts a simulator that only accepts this user and password. */
    public static Vcsim requiringLogin(String user, String password) {
        return start(List.of("-username", user, "-password", password));
    }

    /**
     * Starts a simulator over https (its own certificate, see {@link #thumbprint()}) that only
     * accepts this user and password: what a vCenter configured on a node must be.
     */
    public static Vcsim secure(String user, String password) {
        return start(List.of("-tls", "-username", user, "-password", password));
    }

    /** {@link #secure(String, String)} with the password in a file: it is in no process's arguments. */
    public static Vcsim secure(String user, Path passwordFile) {
        return start(List.of("-tls", "-username", user, "-password-file", passwordFile.toString()));
    }

    /** This simulator as a vCenter configured on a node under {@code name}, its certificate pinned. */
    public Vcenter vcenter(String name, String user, Path passwordFile) {
        return new Vcenter(name, sdk, user, passwordFile, thumbprint, null, null, false);
    }

    /** The node configuration of {@link #vcenter}: {@code blockferry.vmware.vcenters.NAME.*}. */
    public Map<String, Object> nodeConfig(String name, String user, Path passwordFile) {
        String key = "blockferry.vmware.vcenters." + name + ".";
        Map<String, Object> m = new HashMap<>(Map.of(key + "url", sdk.toString(), key + "user", user,
                key + "password-file", passwordFile.toString()));
        if (thumbprint != null) {
            m.put(key + "thumbprint", thumbprint);
        }
        return m;
    }

    /** A session of the test's own (to look at or prepare the simulator), over https when it serves https. */
    public VimClient connect(String user, String password) throws IOException {
        try {
            return VimClient.connect(sdk, VsphereCredentials.of(user, password),
                    thumbprint == null ? null : VimTls.pinnedThumbprint(thumbprint));
        } catch (java.security.GeneralSecurityException e) {
            throw new AssertionError(e);
        }
    }

    /** Starts a simulator with extra vcsim flags (see its README). */
    public static Vcsim start(List<String> flags) {
        Path exe = build();
        List<String> command = new ArrayList<>(List.of(exe.toString(), "-listen", "127.0.0.1:0"));
        command.addAll(flags);
        Path log = exe.resolveSibling("vcsim-" + ProcessHandle.current().pid() + ".log");
        try {
            Process p = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            CompletableFuture<String> url = CompletableFuture.supplyAsync(() -> readLine(out));
            String first = url.get(30, TimeUnit.SECONDS);
            if (first == null) {
                p.destroyForcibly();
                throw new AssertionError("vcsim exited before printing its URL; see " + log);
            }
            String print = flags.contains("-tls") ? readLine(out).replaceFirst("^certificate ", "") : null;
            return new Vcsim(p, URI.create(first.trim()), print);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (Exception e) {
            throw new AssertionError("vcsim did not start: " + e + "; see " + log, e);
        }
    }

    private static String readLine(BufferedReader in) {
        try {
            return in.readLine();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Builds the Go program once per JVM, and again only when a source file is newer. */
    private static synchronized Path build() {
        if (binary != null) {
            return binary;
        }
        Path module = Path.of(System.getProperty("basedir", System.getProperty("user.dir")));
        if (!Files.isDirectory(module.resolve("src/test/vcsim"))) {
            module = module.resolveSibling("engine"); // used from another module's tests (api)
        }
        Path src = module.resolve("src/test/vcsim");
        Path out = module.resolve("target/vcsim");
        Path exe = out.resolve("vcsim");
        try {
            if (!Files.isDirectory(GOVMOMI) || !onPath("go")) {
                throw new AssertionError("vcsim needs Go and govmomi's simulator: " + INSTALL);
            }
            Files.createDirectories(out.resolve("gopath"));
            if (!Files.exists(exe) || newestSource(src).compareTo(Files.getLastModifiedTime(exe)) > 0) {
                ProcessBuilder pb = new ProcessBuilder("go", "build", "-o", exe.toString(), ".")
                        .directory(src.toFile()).redirectErrorStream(true);
                pb.environment().put("GOPATH", out.resolve("gopath") + ":/usr/share/gocode");
                pb.environment().put("GO111MODULE", "off");
                Process go = pb.start();
                go.getOutputStream().close();
                String output = new String(go.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                if (go.waitFor() != 0) {
                    throw new AssertionError("go build of vcsim failed (" + INSTALL + "):\n" + output);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
        binary = exe;
        return exe;
    }

    private static boolean onPath(String tool) {
        return Stream.of(System.getenv().getOrDefault("PATH", "").split(":"))
                .anyMatch(dir -> Files.isExecutable(Path.of(dir, tool)));
    }

    private static FileTime newestSource(Path src) throws IOException {
        try (Stream<Path> files = Files.list(src)) {
            return files.map(f -> {
                try {
                    return Files.getLastModifiedTime(f);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }).max(FileTime::compareTo).orElseThrow();
        }
    }

    /** The SDK endpoint, e.g. http://127.0.0.1:PORT/sdk. */
    public URI sdkUrl() {
        return sdk;
    }

    /** The SHA-256 thumbprint of the server certificate (only with -tls). */
    public String thumbprint() {
        return thumbprint;
    }

    /** Records a simulated guest write. */
    public void write(String vm, int disk, long offset, long length) {
        post("write", "vm", vm, "disk", disk, "offset", offset, "length", length);
    }

    /** Declares the disk's allocated areas as {offset, length} pairs. */
    public void allocate(String vm, int disk, List<long[]> areas) {
        String body = areas.stream().map(a -> a[0] + " " + a[1]).collect(Collectors.joining("\n"));
        send("allocate", body, "vm", vm, "disk", disk);
    }

    /** Derives the disk's allocated areas from a local raw image's data extents. */
    public void allocateFromImage(String vm, int disk, Path image) {
        post("allocate", "vm", vm, "disk", disk, "image", image.toAbsolutePath());
    }

    /** Resets CBT on a disk: every earlier changeId becomes invalid. */
    public void resetTracking(String vm, int disk) {
        post("reset", "vm", vm, "disk", disk);
    }

    public String changeId(String vm, int disk) {
        return post("changeid", "vm", vm, "disk", disk).trim();
    }

    /** Makes the next call of a SOAP method fail with the given vim25 fault type. */
    public void failNext(String method, String fault) {
        post("fail-next", "method", method, "fault", fault);
    }

    /** The next call of {@code method} is answered as done but not carried out. */
    public void ignoreNext(String method) {
        post("ignore-next", "method", method);
    }

    /** For {@code duration}, every SDK call fails with HTTP 503: vCenter unreachable, its state kept. */
    public void outage(java.time.Duration duration) {
        post("outage", "for", duration.toMillis() + "ms");
    }

    /** Ends every session, as vCenter's idle timeout would. */
    public void expireSessions() {
        post("expire-sessions");
    }

    public int snapshots(String vm) {
        return Integer.parseInt(post("snapshots", "vm", vm).trim());
    }

    private String post(String path, Object... query) {
        return send(path, "", query);
    }

    private String send(String path, String body, Object... query) {
        StringBuilder q = new StringBuilder();
        for (int i = 0; i < query.length; i += 2) {
            q.append(i == 0 ? "?" : "&").append(query[i]).append('=')
                    .append(URLEncoder.encode(String.valueOf(query[i + 1]), StandardCharsets.UTF_8));
        }
        URI uri = sdk.resolve("/cbt/" + path + q);
        try {
            HttpResponse<String> res = http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(30))
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
            if (res.statusCode() != 200) {
                throw new AssertionError("vcsim " + path + ": HTTP " + res.statusCode() + " " + res.body());
            }
            return res.body();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    @Override
    public void close() {
        org.blockferry.nbd.testing.TestPeers.stop(process);
    }
}
