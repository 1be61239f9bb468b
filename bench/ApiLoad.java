import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Load generator for BlockFerry's HTTP API (bench/api.sh). JDK 17 only, no dependencies:
 *
 * <pre>
 *   java bench/ApiLoad.java --url http://127.0.0.1:8080 --jobs 1000 --concurrency 50 \
 *        --subscribers 500 --source nbd+unix:///?socket=/s.sock --target nbd+unix:///?socket=/t.sock
 * </pre>
 *
 * <p>Submits {@code --jobs} one-disk jobs ({@code POST /api/v1/jobs}, ids {@code PREFIX000001...},
 * {@code --concurrency} requests in flight, each request timed), opens {@code --subscribers}
 * server-sent-event streams ({@code GET /api/v1/jobs/{id}/events}) spread evenly over the jobs,
 * each opened as soon as its job was accepted, waits until every job has ended and every stream
 * has closed, then reads every job once more ({@code GET /api/v1/jobs/{id}}) and checks.
 *
 * <p>What a subscriber must have seen ("every state change"): a job here goes queued, running,
 * completed. A subscriber is told the state current when its stream starts, then every later
 * change, so its {@code state} events must be a suffix of that history (no repeat, no gap, nothing
 * out of order), the last one final and equal to the job's final status, and the stream must end
 * right after it. A subscriber whose stream started (response headers received) before the job's
 * {@code started_at} must have seen {@code running}; one that started before {@code finished_at}
 * must have seen the final state as an event (always true when the suffix check passes). Event
 * ids (journal sequence numbers) must never go backwards.
 *
 * <p>Errors: a submission answered with anything but 202 (or not answered), a stream not answered
 * with 200, failing, or ending early or out of order, a job not completed within {@code --timeout}
 * seconds (or by the time no job has ended for {@code --stall} seconds: the run gives up early).
 * Prints {@code SUBMIT}, {@code SSE}, {@code JOBS}, {@code THROUGHPUT} (one job) and {@code RESULT}
 * lines of {@code key=value}; exits 1 on any error.
 */
public final class ApiLoad {

    // ---------------------------------------------------------------- options

    private static String url;
    private static String token = System.getenv("BLOCKFERRY_API_TOKEN");
    private static int jobs = 1;
    private static int concurrency = 1;
    private static int subscribers;
    private static int connectConcurrency = 64;
    private static String prefix = "load-" + Long.toString(System.currentTimeMillis(), 36) + "-";
    private static String label = "load";
    private static String vm = "bench-vm";
    private static final List<String> sources = new ArrayList<>();
    private static final List<String> targets = new ArrayList<>();
    private static long timeoutSeconds = 600;
    private static long stallSeconds = Long.MAX_VALUE / 2_000_000_000L;

    private static final List<String> HISTORY = List.of("queued", "running", "completed");

    public static void main(String[] args) throws Exception {
        parse(args);
        String dataDir = System.getenv("BLOCKFERRY_DATA_DIR");
        if ((token == null || token.isEmpty()) && dataDir != null
                && java.nio.file.Files.exists(java.nio.file.Path.of(dataDir, "api-token"))) {
            token = readToken(java.nio.file.Path.of(dataDir, "api-token"));
        }
        System.exit(new ApiLoad().run() ? 0 : 1);
    }

    /** The first line of the file (a token never goes on the command line, where ps shows it). */
    private static String readToken(java.nio.file.Path file) {
        try {
            return java.nio.file.Files.readAllLines(file).get(0).trim();
        } catch (IOException | IndexOutOfBoundsException e) {
            die("cannot read the API token from " + file + ": " + e);
            return null;
        }
    }

    private static void parse(String[] args) {
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("-h") || a.equals("--help")) {
                System.out.println("usage: java bench/ApiLoad.java --url URL --source URI --target URI [--jobs N]"
                        + " [--concurrency C] [--subscribers S] [--connect-concurrency K] [--prefix P] [--label L]"
                        + " [--vm NAME] [--timeout SECONDS] [--stall SECONDS] [--token-file FILE]   (--source/--target"
                        + " repeatable: job i uses the (i mod n)-th; the API token: --token-file, else"
                        + " BLOCKFERRY_API_TOKEN, else $BLOCKFERRY_DATA_DIR/api-token, where serve generates it)");
                System.exit(0);
            }
            if (i + 1 >= args.length) {
                die(a + " needs a value");
            }
            String v = args[++i];
            switch (a) {
                case "--url" -> url = v.replaceAll("/+$", "");
                case "--token-file" -> token = readToken(java.nio.file.Path.of(v));
                case "--jobs" -> jobs = positive(a, v, 1);
                case "--concurrency" -> concurrency = positive(a, v, 1);
                case "--subscribers" -> subscribers = positive(a, v, 0);
                case "--connect-concurrency" -> connectConcurrency = positive(a, v, 1);
                case "--prefix" -> prefix = v;
                case "--label" -> label = v;
                case "--vm" -> vm = v;
                case "--source" -> sources.add(v);
                case "--target" -> targets.add(v);
                case "--timeout" -> timeoutSeconds = positive(a, v, 1);
                case "--stall" -> stallSeconds = positive(a, v, 1);
                default -> die("unknown option " + a + " (--help)");
            }
        }
        if (url == null || sources.isEmpty() || targets.isEmpty()) {
            die("--url, --source and --target are required (--help)");
        }
    }

    private static int positive(String name, String v, int min) {
        try {
            int n = Integer.parseInt(v);
            if (n >= min) {
                return n;
            }
        } catch (NumberFormatException e) {
            // below
        }
        die(name + " must be a whole number >= " + min + ", got '" + v + "'");
        return 0;
    }

    private static void die(String message) {
        System.err.println("ApiLoad: " + message);
        System.exit(2);
    }

    // ---------------------------------------------------------------- state

    /** One submission and what the end-of-run read found. */
    private static final class Job {
        final int index;
        final String id;
        volatile int submitStatus = -1;
        volatile String submitError;
        volatile long latencyNanos = -1;
        /** When a subscriber first saw the final state; then when GET first showed it too. */
        final java.util.concurrent.atomic.AtomicLong sseFinalAt = new java.util.concurrent.atomic.AtomicLong(-1);
        volatile long readFinalLagMs = -1;
        String status;          // from the final read
        long totalBytes = -1;
        long submittedAt = -1;
        long startedAt = -1;
        long finishedAt = -1;
        final List<Subscriber> subs = new ArrayList<>();

        Job(int index) {
            this.index = index;
            this.id = String.format(Locale.ROOT, "%s%06d", prefix, index + 1);
        }
    }

    private final Job[] all = new Job[jobs];
    private final List<Subscriber> subs = new ArrayList<>();
    private final HttpClient api = client(4);
    private final SseLoop sse = new SseLoop();
    private final CountDownLatch subsDone = new CountDownLatch(subscribers);
    private final AtomicInteger open = new AtomicInteger();
    private final AtomicInteger peakOpen = new AtomicInteger();
    private final Semaphore connecting = new Semaphore(connectConcurrency);
    private final LinkedBlockingQueue<Subscriber> toOpen = new LinkedBlockingQueue<>();
    private final List<String> errors = new ArrayList<>();
    private volatile boolean stalled;
    private final ExecutorService readBack = Executors.newFixedThreadPool(2, r -> {
        Thread t = new Thread(r, "read-back");
        t.setDaemon(true);
        return t;
    });

    private static HttpClient client(int threads) {
        ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "http");
            t.setDaemon(true);
            return t;
        });
        return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10))
                .executor(pool).build();
    }

    private HttpRequest.Builder request(String path) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url + path));
        if (token != null && !token.isEmpty()) {
            b.header("Authorization", "Bearer " + token);
        }
        return b;
    }

    private synchronized void error(String what) {
        errors.add(what);
    }

    // ---------------------------------------------------------------- run

    private boolean run() throws Exception {
        for (int i = 0; i < jobs; i++) {
            all[i] = new Job(i);
        }
        // subscriber j watches job floor(j * jobs / subscribers): even spread, several per job when S > N
        for (int j = 0; j < subscribers; j++) {
            Job job = all[(int) ((long) j * jobs / subscribers)];
            Subscriber s = new Subscriber(job);
            job.subs.add(s);
            subs.add(s);
        }
        if (subscribers > 0) {
            Thread loop = new Thread(sse, "sse-loop");
            loop.setDaemon(true);
            loop.start();
        }
        Thread opener = new Thread(this::openLoop, "sse-opener");
        opener.setDaemon(true);
        opener.start();

        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
        long submitStart = System.nanoTime();
        long submitStartWall = System.currentTimeMillis();
        submitAll();
        double submitSeconds = (System.nanoTime() - submitStart) / 1e9;

        boolean allEnded = waitForJobs(deadline);
        // every stream should close right after its job's final state
        boolean streamsClosed = subsDone.await(allEnded ? Math.max(30, remaining(deadline)) : 5, TimeUnit.SECONDS);
        readAll();

        int submitErrors = 0;
        List<Long> lat = new ArrayList<>();
        for (Job j : all) {
            if (j.submitStatus != 202) {
                submitErrors++;
                error("submit " + j.id + ": " + (j.submitError != null ? j.submitError : "HTTP " + j.submitStatus));
            }
            if (j.latencyNanos >= 0) {
                lat.add(j.latencyNanos);
            }
        }
        lat.sort(null);
        System.out.printf(Locale.ROOT, "SUBMIT label=%s requests=%d concurrency=%d errors=%d p50_ms=%.1f p99_ms=%.1f"
                        + " max_ms=%.1f seconds=%.2f rate_per_s=%.1f%n", label, jobs, concurrency, submitErrors,
                pct(lat, 0.50) / 1e6, pct(lat, 0.99) / 1e6, lat.isEmpty() ? 0 : lat.get(lat.size() - 1) / 1e6,
                submitSeconds, jobs / submitSeconds);
        System.out.print("SUBMIT_BY_TENTH label=" + label + " p99_ms_of_each_tenth_in_submission_order=");
        for (int t = 0; t < 10; t++) {
            List<Long> part = new ArrayList<>();
            for (int i = t * jobs / 10; i < (t + 1) * jobs / 10; i++) {
                if (all[i].latencyNanos >= 0) {
                    part.add(all[i].latencyNanos);
                }
            }
            part.sort(null);
            System.out.printf(Locale.ROOT, "%s%.0f", t == 0 ? "" : ",", pct(part, 0.99) / 1e6);
        }
        System.out.println();

        int sseErrors = 0;
        if (subscribers > 0) {
            sseErrors = checkSubscribers(streamsClosed);
        }

        int jobErrors = reportJobs(submitStartWall, allEnded);
        int total = submitErrors + sseErrors + jobErrors;
        int shown = 0;
        synchronized (this) {
            for (String e : errors) {
                if (shown++ < 20) {
                    System.out.println("ERROR " + e);
                }
            }
            if (errors.size() > 20) {
                System.out.println("ERROR ... and " + (errors.size() - 20) + " more");
            }
        }
        double clientCpu = ProcessHandle.current().info().totalCpuDuration().map(d -> d.toMillis() / 1000.0)
                .orElse(-1.0);
        System.out.printf(Locale.ROOT, "RESULT label=%s errors=%d submit_errors=%d sse_errors=%d job_errors=%d"
                + " client_cpu_s=%.2f%n", label, total, submitErrors, sseErrors, jobErrors, clientCpu);
        return total == 0;
    }

    private static long remaining(long deadline) {
        return Math.max(0, TimeUnit.NANOSECONDS.toSeconds(deadline - System.nanoTime()));
    }

    private void submitAll() throws InterruptedException {
        AtomicInteger next = new AtomicInteger();
        Thread[] workers = new Thread[Math.min(concurrency, jobs)];
        for (int w = 0; w < workers.length; w++) {
            workers[w] = new Thread(() -> {
                for (int i = next.getAndIncrement(); i < jobs; i = next.getAndIncrement()) {
                    submit(all[i]);
                }
            }, "submit-" + w);
            workers[w].start();
        }
        for (Thread t : workers) {
            t.join();
        }
    }

    private void submit(Job job) {
        String body = "{\"job_id\":" + quote(job.id) + ",\"vm\":" + quote(vm + "-" + (job.index + 1))
                + ",\"disks\":[{\"id\":\"d0\",\"source\":" + quote(sources.get(job.index % sources.size()))
                + ",\"target\":" + quote(targets.get(job.index % targets.size())) + "}]}";
        HttpRequest req = request("/api/v1/jobs").timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
        long t0 = System.nanoTime();
        try {
            HttpResponse<String> r = api.send(req, HttpResponse.BodyHandlers.ofString());
            job.latencyNanos = System.nanoTime() - t0;
            job.submitStatus = r.statusCode();
            if (r.statusCode() != 202) {
                job.submitError = "HTTP " + r.statusCode() + " " + r.body();
            }
        } catch (IOException | InterruptedException e) {
            job.latencyNanos = System.nanoTime() - t0;
            job.submitError = e.toString();
        }
        if (job.submitStatus == 202) {
            toOpen.addAll(job.subs);
        } else {
            for (Subscriber s : job.subs) {
                s.refused("its job was not accepted");
            }
        }
    }

    private static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20) {
                b.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.append('"').toString();
    }

    // ---------------------------------------------------------------- subscribers

    /** Opens streams in acceptance order, at most {@code connectConcurrency} connecting at once. */
    private void openLoop() {
        try {
            while (true) {
                Subscriber s = toOpen.take();
                connecting.acquire();
                sse.open(s);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static final Pattern STATUS = Pattern.compile("\"status\"\\s*:\\s*\"([a-z]+)\"");

    /** One SSE stream: parses events as lines arrive and keeps what the checks need. */
    private final class Subscriber {
        final Job job;
        volatile int httpStatus = -1;
        volatile long headersAtWall = -1;
        final List<String> states = new ArrayList<>();
        final List<Long> stateIds = new ArrayList<>();
        long finalAtWall = -1;
        int progress;
        int heartbeats;
        boolean idsWentBack;
        boolean afterFinal;
        boolean ended;
        String failure;
        private long lastId = -1;
        private String event;
        private StringBuilder data;
        private String id;
        private boolean finished;

        Subscriber(Job job) {
            this.job = job;
        }

        /** The response head arrived. */
        void headers(int status) {
            httpStatus = status;
            headersAtWall = System.currentTimeMillis();
            connecting.release();
            int now = open.incrementAndGet();
            peakOpen.accumulateAndGet(now, Math::max);
        }

        void refused(String why) {
            connecting.acquireUninterruptibly(); // fail() gives back a permit it never took
            fail(why);
        }

        /** One line of the event stream, without its end of line. */
        void line(String line) {
            synchronized (this) {
                if (line.isEmpty()) {
                    dispatch();
                } else if (line.startsWith(":")) {
                    if (line.contains("heartbeat")) {
                        heartbeats++;
                    }
                } else {
                    int colon = line.indexOf(':');
                    String field = colon < 0 ? line : line.substring(0, colon);
                    String value = colon < 0 ? "" : line.substring(colon + 1);
                    if (value.startsWith(" ")) {
                        value = value.substring(1);
                    }
                    switch (field) {
                        case "event" -> event = value;
                        case "id" -> id = value;
                        case "data" -> {
                            if (data == null) {
                                data = new StringBuilder(value);
                            } else {
                                data.append('\n').append(value);
                            }
                        }
                        default -> { }
                    }
                }
            }
        }

        private void dispatch() {
            if (data == null && event == null) {
                id = null;
                return;
            }
            if (id != null) {
                try {
                    long n = Long.parseLong(id.trim());
                    if (n < lastId) {
                        idsWentBack = true;
                    }
                    lastId = n;
                } catch (NumberFormatException e) {
                    idsWentBack = true;
                }
            }
            if (!states.isEmpty() && isFinal(states.get(states.size() - 1))) {
                afterFinal = true;
            }
            if ("state".equals(event)) {
                Matcher m = STATUS.matcher(data == null ? "" : data);
                String status = m.find() ? m.group(1) : "?";
                states.add(status);
                stateIds.add(lastId);
                if (isFinal(status)) {
                    finalAtWall = System.currentTimeMillis();
                    if (job.sseFinalAt.compareAndSet(-1, finalAtWall)) {
                        readBack.execute(() -> readBack(job));
                    }
                }
            } else if ("progress".equals(event)) {
                progress++;
            }
            event = null;
            data = null;
            id = null;
        }

        /** The server ended the stream (the last chunk of the response). */
        void complete() {
            synchronized (this) {
                if (finished) {
                    return;
                }
                ended = true;
                finished = true;
            }
            open.decrementAndGet();
            subsDone.countDown();
        }

        void fail(String why) {
            boolean wasOpen;
            synchronized (this) {
                if (finished) {
                    return;
                }
                finished = true;
                failure = why;
                wasOpen = httpStatus >= 0;
            }
            if (wasOpen) {
                open.decrementAndGet();
            } else {
                connecting.release();
            }
            subsDone.countDown();
        }

        /** Null when the stream was right, else why not. */
        synchronized String verdict() {
            if (failure != null) {
                return "stream failed: " + failure + " (states " + states + ")";
            }
            if (httpStatus != 200) {
                return "HTTP " + httpStatus;
            }
            if (!ended) {
                return "stream did not end (states " + states + ")";
            }
            if (states.isEmpty()) {
                return "no state event";
            }
            String last = states.get(states.size() - 1);
            if (!isFinal(last)) {
                return "ended without a final state: " + states;
            }
            if (afterFinal) {
                return "events after the final state: " + states;
            }
            if (idsWentBack) {
                return "event ids went backwards";
            }
            for (int i = 1; i < states.size(); i++) {
                if (rank(states.get(i)) <= rank(states.get(i - 1))) {
                    return "states repeated or out of order: " + states;
                }
            }
            if (job.status != null && !last.equals(job.status)) {
                return "saw final state " + last + " but the job is " + job.status;
            }
            if ("completed".equals(job.status)) {
                if (states.size() > HISTORY.size()
                        || !states.equals(HISTORY.subList(HISTORY.size() - states.size(), HISTORY.size()))) {
                    return "missed a state change: saw " + states + ", the job went " + HISTORY;
                }
                if (job.startedAt > 0 && headersAtWall < job.startedAt && !states.contains("running")) {
                    return "subscribed " + (job.startedAt - headersAtWall) + " ms before the job started"
                            + " but never saw running: " + states;
                }
            }
            return null;
        }
    }

    /**
     * Every event stream on one selector thread: plain HTTP/1.1 over non-blocking sockets, the
     * chunked body decoded by hand, lines handed to their {@link Subscriber}. Cheap enough that 500
     * streams cost the client almost nothing next to the server under test (the JDK's HttpClient
     * spent about as much CPU as the server did).
     */
    private final class SseLoop implements Runnable {
        private final Selector selector;
        private final ConcurrentLinkedQueue<Subscriber> starting = new ConcurrentLinkedQueue<>();
        private final InetSocketAddress address;
        private final String hostHeader;

        SseLoop() {
            try {
                selector = Selector.open();
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
            URI u = URI.create(url);
            if (!"http".equals(u.getScheme())) {
                die("--url must be http:// (the event-stream client speaks plain HTTP/1.1)");
            }
            int port = u.getPort() < 0 ? 80 : u.getPort();
            address = new InetSocketAddress(u.getHost(), port);
            hostHeader = u.getHost() + ":" + port;
        }

        void open(Subscriber s) {
            starting.add(s);
            selector.wakeup();
        }

        @Override
        public void run() {
            ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
            while (true) {
                try {
                    selector.select();
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
                for (Subscriber s; (s = starting.poll()) != null; ) {
                    start(s);
                }
                for (Iterator<SelectionKey> it = selector.selectedKeys().iterator(); it.hasNext(); ) {
                    SelectionKey key = it.next();
                    it.remove();
                    Stream c = (Stream) key.attachment();
                    try {
                        if (key.isConnectable() && c.channel.finishConnect()) {
                            key.interestOps(SelectionKey.OP_WRITE);
                        }
                        if (key.isValid() && key.isWritable()) {
                            c.channel.write(c.request);
                            if (!c.request.hasRemaining()) {
                                key.interestOps(SelectionKey.OP_READ);
                            }
                        }
                        if (key.isValid() && key.isReadable()) {
                            buf.clear();
                            int n = c.channel.read(buf);
                            if (n < 0) {
                                c.eof();
                            } else {
                                c.feed(buf.array(), n);
                            }
                        }
                    } catch (IOException | RuntimeException e) {
                        c.close("stream failed: " + e);
                    }
                    if (c.closed) {
                        key.cancel();
                        try {
                            c.channel.close();
                        } catch (IOException e) {
                            // closing anyway
                        }
                    }
                }
            }
        }

        private void start(Subscriber s) {
            StringBuilder req = new StringBuilder("GET /api/v1/jobs/").append(s.job.id)
                    .append("/events HTTP/1.1\r\nHost: ").append(hostHeader)
                    .append("\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n");
            if (token != null && !token.isEmpty()) {
                req.append("Authorization: Bearer ").append(token).append("\r\n");
            }
            req.append("\r\n");
            try {
                SocketChannel ch = SocketChannel.open();
                ch.configureBlocking(false);
                Stream c = new Stream(s, ch, ByteBuffer.wrap(req.toString().getBytes(StandardCharsets.UTF_8)));
                int ops = ch.connect(address) ? SelectionKey.OP_WRITE : SelectionKey.OP_CONNECT;
                ch.register(selector, ops, c);
            } catch (IOException e) {
                s.fail("cannot connect: " + e);
            }
        }
    }

    /** One response being read: head, then chunks (or everything up to EOF), then SSE lines. */
    private static final class Stream {
        private static final int HEAD = 0;
        private static final int CHUNK_SIZE = 1;
        private static final int CHUNK_DATA = 2;
        private static final int CHUNK_END = 3;
        private static final int UNTIL_EOF = 4;

        final Subscriber sub;
        final SocketChannel channel;
        final ByteBuffer request;
        boolean closed;
        private int state = HEAD;
        private byte[] in = new byte[8192];
        private int inLen;
        private long chunkLeft;
        private byte[] line = new byte[1024];
        private int lineLen;

        Stream(Subscriber sub, SocketChannel channel, ByteBuffer request) {
            this.sub = sub;
            this.channel = channel;
            this.request = request;
        }

        void feed(byte[] bytes, int n) {
            if (inLen + n > in.length) {
                in = Arrays.copyOf(in, Math.max(in.length * 2, inLen + n));
            }
            System.arraycopy(bytes, 0, in, inLen, n);
            inLen += n;
            int pos = 0;
            while (!closed) {
                if (state == HEAD) {
                    int end = indexOf(in, 0, inLen, "\r\n\r\n");
                    if (end < 0) {
                        if (inLen > 65536) {
                            close("response head too long");
                        }
                        break;
                    }
                    head(new String(in, 0, end, StandardCharsets.ISO_8859_1));
                    pos = end + 4;
                } else if (state == CHUNK_SIZE) {
                    int end = indexOf(in, pos, inLen, "\r\n");
                    if (end < 0) {
                        break;
                    }
                    String size = new String(in, pos, end - pos, StandardCharsets.ISO_8859_1);
                    int semi = size.indexOf(';');
                    chunkLeft = Long.parseLong((semi < 0 ? size : size.substring(0, semi)).trim(), 16);
                    pos = end + 2;
                    if (chunkLeft == 0) {
                        sub.complete(); // the last chunk: the server ended the stream (trailers ignored)
                        closed = true;
                        break;
                    }
                    state = CHUNK_DATA;
                } else if (state == CHUNK_DATA) {
                    int take = (int) Math.min(chunkLeft, inLen - pos);
                    body(in, pos, take);
                    pos += take;
                    chunkLeft -= take;
                    if (chunkLeft > 0) {
                        break;
                    }
                    state = CHUNK_END;
                } else if (state == CHUNK_END) {
                    if (inLen - pos < 2) {
                        break;
                    }
                    pos += 2; // the CRLF after a chunk's data
                    state = CHUNK_SIZE;
                } else { // UNTIL_EOF
                    body(in, pos, inLen - pos);
                    pos = inLen;
                    break;
                }
            }
            System.arraycopy(in, pos, in, 0, inLen - pos);
            inLen -= pos;
        }

        private void head(String head) {
            String[] lines = head.split("\r\n");
            String[] status = lines[0].split(" ", 3);
            int code = status.length > 1 ? Integer.parseInt(status[1]) : -1;
            boolean chunked = false;
            for (int i = 1; i < lines.length; i++) {
                int colon = lines[i].indexOf(':');
                if (colon > 0 && lines[i].substring(0, colon).trim().equalsIgnoreCase("transfer-encoding")
                        && lines[i].substring(colon + 1).toLowerCase(Locale.ROOT).contains("chunked")) {
                    chunked = true;
                }
            }
            sub.headers(code);
            if (code != 200) {
                close("HTTP " + code);
                return;
            }
            state = chunked ? CHUNK_SIZE : UNTIL_EOF;
        }

        private void body(byte[] b, int off, int len) {
            for (int i = off; i < off + len; i++) {
                byte x = b[i];
                if (x == '\n') {
                    int n = lineLen > 0 && line[lineLen - 1] == '\r' ? lineLen - 1 : lineLen;
                    sub.line(new String(line, 0, n, StandardCharsets.UTF_8));
                    lineLen = 0;
                } else {
                    if (lineLen == line.length) {
                        line = Arrays.copyOf(line, line.length * 2);
                    }
                    line[lineLen++] = x;
                }
            }
        }

        void eof() {
            if (state == UNTIL_EOF) {
                sub.complete();
                closed = true;
            } else {
                close("the server closed the connection before the end of the stream");
            }
        }

        void close(String why) {
            if (!closed) {
                closed = true;
                sub.fail(why);
            }
        }

        private static int indexOf(byte[] b, int from, int to, String what) {
            outer:
            for (int i = from; i <= to - what.length(); i++) {
                for (int k = 0; k < what.length(); k++) {
                    if (b[i + k] != what.charAt(k)) {
                        continue outer;
                    }
                }
                return i;
            }
            return -1;
        }
    }

    private static boolean isFinal(String s) {
        return s.equals("completed") || s.equals("failed") || s.equals("cancelled");
    }

    private static int rank(String s) {
        return switch (s) {
            case "queued" -> 0;
            case "running" -> 1;
            case "cancelling" -> 2;
            case "completed", "failed", "cancelled" -> 3;
            default -> -1;
        };
    }

    private int checkSubscribers(boolean streamsClosed) {
        int bad = 0;
        int sawQueued = 0;
        int joinedBeforeStart = 0;
        int joinedRunning = 0;
        int joinedAfterEnd = 0;
        long progressEvents = 0;
        long heartbeats = 0;
        List<Long> lags = new ArrayList<>();
        Map<String, Integer> firstSeen = new LinkedHashMap<>();
        for (Subscriber s : subs) {
            String why = s.verdict();
            if (why != null) {
                bad++;
                error("subscriber of " + s.job.id + ": " + why);
            }
            synchronized (s) {
                progressEvents += s.progress;
                heartbeats += s.heartbeats;
                if (!s.states.isEmpty()) {
                    firstSeen.merge(s.states.get(0), 1, Integer::sum);
                    if (s.states.get(0).equals("queued")) {
                        sawQueued++;
                    }
                }
                if (s.headersAtWall > 0 && s.job.startedAt > 0) {
                    if (s.headersAtWall < s.job.startedAt) {
                        joinedBeforeStart++;
                    } else if (s.job.finishedAt < 0 || s.headersAtWall < s.job.finishedAt) {
                        joinedRunning++;
                    } else {
                        joinedAfterEnd++;
                    }
                }
                if (s.finalAtWall > 0 && s.job.finishedAt > 0) {
                    lags.add(s.finalAtWall - s.job.finishedAt);
                }
            }
        }
        lags.sort(null);
        List<Long> readLags = new ArrayList<>();
        int readNever = 0;
        for (Job j : all) {
            if (j.sseFinalAt.get() > 0) {
                if (j.readFinalLagMs >= 0) {
                    readLags.add(j.readFinalLagMs);
                } else {
                    readNever++;
                }
            }
        }
        readLags.sort(null);
        long jobsWatched = subs.stream().map(s -> s.job).distinct().count();
        StringBuilder first = new StringBuilder();
        firstSeen.forEach((k, v) -> first.append(first.length() == 0 ? "" : ",").append(k).append(':').append(v));
        System.out.printf(Locale.ROOT, "SSE label=%s subscribers=%d jobs_watched=%d peak_open=%d errors=%d"
                        + " all_state_changes_seen=%d joined_before_start=%d joined_while_running=%d"
                        + " joined_after_end=%d first_state=%s progress_events=%d heartbeats=%d"
                        + " final_lag_ms_p50=%d final_lag_ms_p99=%d final_lag_ms_max=%d streams_closed=%s"
                        + " get_final_after_sse_ms_p50=%d get_final_after_sse_ms_max=%d get_never_final=%d%n",
                label, subs.size(), jobsWatched, peakOpen.get(), bad, subs.size() - bad, joinedBeforeStart,
                joinedRunning, joinedAfterEnd, first.length() == 0 ? "-" : first, progressEvents, heartbeats,
                pct(lags, 0.50), pct(lags, 0.99), lags.isEmpty() ? 0 : lags.get(lags.size() - 1), streamsClosed,
                pct(readLags, 0.50), readLags.isEmpty() ? 0 : readLags.get(readLags.size() - 1), readNever);
        return bad;
    }

    // ---------------------------------------------------------------- jobs

    /**
     * Reads the unfinished jobs round-robin (4 reads every 250 ms) until each shows a final status,
     * the deadline passes, or no job has ended for {@code --stall} seconds (then {@link #stalled}).
     */
    private boolean waitForJobs(long deadline) throws InterruptedException {
        List<Job> unfinished = new ArrayList<>();
        for (Job j : all) {
            if (j.submitStatus == 202) {
                unfinished.add(j);
            }
        }
        int cursor = 0;
        long lastEnd = System.nanoTime();
        while (!unfinished.isEmpty() && System.nanoTime() < deadline) {
            if (System.nanoTime() - lastEnd > TimeUnit.SECONDS.toNanos(stallSeconds)) {
                stalled = true;
                return false;
            }
            for (int k = 0; k < 4 && !unfinished.isEmpty(); k++) {
                if (cursor >= unfinished.size()) {
                    cursor = 0;
                }
                String doc = get(unfinished.get(cursor).id);
                if (doc != null && isFinal(String.valueOf(field(doc, "status")))) {
                    unfinished.remove(cursor);
                    lastEnd = System.nanoTime();
                } else {
                    cursor++;
                }
            }
            if (!unfinished.isEmpty()) {
                Thread.sleep(250);
            }
        }
        return unfinished.isEmpty();
    }

    /**
     * After a stream announced the job's final state, how long until {@code GET /api/v1/jobs/{id}}
     * shows it too (the read side is fed from the same journal, asynchronously).
     */
    private void readBack(Job job) {
        long seen = job.sseFinalAt.get();
        while (System.currentTimeMillis() - seen < 60_000) {
            String doc = get(job.id);
            if (doc != null && isFinal(String.valueOf(field(doc, "status")))) {
                job.readFinalLagMs = System.currentTimeMillis() - seen;
                return;
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private String get(String id) {
        try {
            HttpResponse<String> r = api.send(request("/api/v1/jobs/" + id).timeout(Duration.ofSeconds(30)).GET()
                    .build(), HttpResponse.BodyHandlers.ofString());
            return r.statusCode() == 200 ? r.body() : null;
        } catch (IOException | InterruptedException e) {
            return null;
        }
    }

    /** Reads every accepted job once (8 at a time). */
    private void readAll() throws InterruptedException {
        AtomicInteger next = new AtomicInteger();
        Thread[] readers = new Thread[Math.min(8, jobs)];
        for (int w = 0; w < readers.length; w++) {
            readers[w] = new Thread(() -> {
                for (int i = next.getAndIncrement(); i < jobs; i = next.getAndIncrement()) {
                    Job j = all[i];
                    if (j.submitStatus != 202) {
                        continue;
                    }
                    String doc = get(j.id);
                    if (doc == null) {
                        continue;
                    }
                    j.status = String.valueOf(field(doc, "status"));
                    Object total = field(doc, "total_bytes");
                    j.totalBytes = total instanceof Long n ? n : -1;
                    j.submittedAt = millis(field(doc, "submitted_at"));
                    j.startedAt = millis(field(doc, "started_at"));
                    j.finishedAt = millis(field(doc, "finished_at"));
                }
            });
            readers[w].start();
        }
        for (Thread t : readers) {
            t.join();
        }
    }

    private int reportJobs(long submitStartWall, boolean allEnded) {
        int completed = 0;
        int unfinished = 0;
        int other = 0;
        long bytes = 0;
        long firstStart = Long.MAX_VALUE;
        long lastFinish = 0;
        List<Long> copyMs = new ArrayList<>();
        List<Long> queuedMs = new ArrayList<>();
        for (Job j : all) {
            if (j.submitStatus != 202) {
                continue;
            }
            if ("completed".equals(j.status)) {
                completed++;
                bytes += Math.max(0, j.totalBytes);
                firstStart = Math.min(firstStart, j.startedAt);
                lastFinish = Math.max(lastFinish, j.finishedAt);
                copyMs.add(j.finishedAt - j.startedAt);
                queuedMs.add(j.startedAt - j.submittedAt);
            } else if (j.status == null || !isFinal(j.status)) {
                unfinished++;
                error("job " + j.id + " has not ended (status " + j.status + ")");
            } else {
                other++;
                error("job " + j.id + " ended " + j.status);
            }
        }
        copyMs.sort(null);
        queuedMs.sort(null);
        double span = completed == 0 ? 0 : (lastFinish - submitStartWall) / 1000.0;
        System.out.printf(Locale.ROOT, "JOBS label=%s accepted=%d completed=%d not_completed=%d unfinished=%d"
                        + " all_ended_in_time=%s stalled=%s total_bytes=%d first_submit_to_last_finish_s=%.2f jobs_per_s=%.2f"
                        + " job_run_ms_p50=%d job_run_ms_p99=%d queued_ms_p50=%d queued_ms_max=%d%n",
                label, completed + unfinished + other, completed, other, unfinished, allEnded, stalled, bytes, span,
                span > 0 ? completed / span : 0, pct(copyMs, 0.5), pct(copyMs, 0.99), pct(queuedMs, 0.5),
                queuedMs.isEmpty() ? 0 : queuedMs.get(queuedMs.size() - 1));
        if (jobs == 1 && completed == 1) {
            Job j = all[0];
            double seconds = (j.finishedAt - j.startedAt) / 1000.0;
            System.out.printf(Locale.ROOT, "THROUGHPUT label=%s job=%s total_bytes=%d copy_s=%.3f MiB_per_s=%.1f%n",
                    label, j.id, j.totalBytes, seconds, j.totalBytes / seconds / 1048576.0);
        }
        return unfinished + other;
    }

    // ---------------------------------------------------------------- helpers

    private static long pct(List<Long> sorted, double p) {
        if (sorted.isEmpty()) {
            return 0;
        }
        int rank = (int) Math.ceil(p * sorted.size());
        return sorted.get(Math.max(0, Math.min(sorted.size(), rank) - 1));
    }

    private static long millis(Object iso) {
        if (!(iso instanceof String s)) {
            return -1;
        }
        try {
            return OffsetDateTime.parse(s).toInstant().toEpochMilli();
        } catch (RuntimeException e) {
            return -1;
        }
    }

    /**
     * The first value of {@code "name":} in a JSON document: a String, a Long, a Double or null. The
     * job document lists its own fields before {@code disks}, so the first match is the job's.
     */
    static Object field(String json, String name) {
        int at = json.indexOf("\"" + name + "\"");
        if (at < 0) {
            return null;
        }
        int i = json.indexOf(':', at + name.length() + 2) + 1;
        while (i < json.length() && Character.isWhitespace(json.charAt(i))) {
            i++;
        }
        if (i >= json.length()) {
            return null;
        }
        char c = json.charAt(i);
        if (c == '"') {
            StringBuilder b = new StringBuilder();
            for (int k = i + 1; k < json.length(); k++) {
                char d = json.charAt(k);
                if (d == '\\' && k + 1 < json.length()) {
                    b.append(json.charAt(++k));
                } else if (d == '"') {
                    return b.toString();
                } else {
                    b.append(d);
                }
            }
            return null;
        }
        int end = i;
        while (end < json.length() && ",}] \n\r\t".indexOf(json.charAt(end)) < 0) {
            end++;
        }
        String raw = json.substring(i, end);
        if (raw.equals("null")) {
            return null;
        }
        try {
            return Long.parseLong(raw);
        } catch (NumberFormatException e) {
            try {
                return Double.parseDouble(raw);
            } catch (NumberFormatException e2) {
                return raw;
            }
        }
    }
}
