package org.blockferry.api.http;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.Stream;

/** Reads a server-sent-event stream the way a browser would: id, event, data, comments. */
public final class SseClient {
    /** One event (or a comment, with {@code event == null}). */
    public record Event(Long id, String event, JsonNode data, String comment, long atNanos) {
        public boolean isState(String status) {
            return "state".equals(event) && status.equals(data.path("status").asText());
        }
    }

    /**
     * What a subscriber saw: its events in order, whether the server ended the stream, and
     * whether the connection broke (the server died) before.
     */
    public record Seen(int status, List<Event> events, boolean ended, boolean broken) {
        public List<String> states() {
            return events.stream().filter(e -> "state".equals(e.event())).map(e -> e.data().path("status").asText())
                    .toList();
        }

        List<Event> named(String name) {
            return events.stream().filter(e -> name.equals(e.event())).toList();
        }
    }

    private SseClient() {
    }

    /**
     * Subscribes and reads until the server ends the stream, {@code stopWhen} matches an event or
     * a comment (the connection is then dropped, as a client that goes away), or {@code timeout}.
     */
    public static Seen read(HttpClient client, HttpRequest request, Predicate<Event> stopWhen, Duration timeout)
            throws Exception {
        HttpResponse<Stream<String>> response = client.send(request, HttpResponse.BodyHandlers.ofLines());
        if (response.statusCode() != 200) {
            response.body().close();
            return new Seen(response.statusCode(), List.of(), true, false);
        }
        List<Event> events = new ArrayList<>();
        boolean[] broken = {false};
        CompletableFuture<Boolean> reading = CompletableFuture.supplyAsync(() -> {
            try {
                Long id = null;
                String name = null;
                StringBuilder data = new StringBuilder();
                var it = response.body().iterator();
                while (it.hasNext()) {
                    String line = it.next();
                    if (line.isEmpty()) {
                        if (name != null || data.length() > 0) {
                            Event e = new Event(id, name, parse(data.toString()), null, System.nanoTime());
                            synchronized (events) {
                                events.add(e);
                            }
                            if (stopWhen.test(e)) {
                                return false;
                            }
                        }
                        id = null;
                        name = null;
                        data.setLength(0);
                    } else if (line.startsWith(":")) {
                        Event c = new Event(null, null, null, line.substring(1).trim(), System.nanoTime());
                        synchronized (events) {
                            events.add(c);
                        }
                        if (stopWhen.test(c)) {
                            return false;
                        }
                    } else if (line.startsWith("id:")) {
                        id = Long.parseLong(line.substring(3).trim());
                    } else if (line.startsWith("event:")) {
                        name = line.substring(6).trim();
                    } else if (line.startsWith("data:")) {
                        data.append(line.substring(5).trim());
                    }
                }
                return true;
            } catch (java.io.UncheckedIOException e) {
                broken[0] = true; // the connection broke: the server went away
                return false;
            }
        });
        try {
            boolean ended = reading.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            synchronized (events) {
                return new Seen(200, List.copyOf(events), ended, broken[0]);
            }
        } finally {
            response.body().close();
        }
    }

    private static JsonNode parse(String data) {
        try {
            return ApiFixture.JSON.readTree(data.isEmpty() ? "null" : data);
        } catch (Exception e) {
            throw new AssertionError("an SSE data line is not JSON: " + data, e);
        }
    }
}
