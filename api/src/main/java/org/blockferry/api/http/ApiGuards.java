package org.blockferry.api.http;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpMethods;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.MediaTypes;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.Connection;
import org.apache.pekko.http.javadsl.model.headers.Host;
import org.apache.pekko.http.javadsl.model.headers.HttpChallenge;
import org.apache.pekko.http.javadsl.model.headers.WWWAuthenticate;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.scaladsl.model.EntityStreamSizeException;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.javadsl.Sink;

/**
 * What a request must show before a route looks at it: a Host this server answers to (DNS
 * rebinding), the API token (in the Authorization header; in the query only for the event
 * stream, which browsers open without headers), and for a state-changing route a JSON body
 * (a cross-site form can send none) that arrives whole, in time and within the size limit.
 */
final class ApiGuards extends AllDirectives {
    /** The one route that takes {@code ?access_token=}: browsers' EventSource cannot set headers. */
    private static final Pattern EVENT_STREAM = Pattern.compile("/api/v1/jobs/[^/]+/events");

    /** How much of a body that is refused unread is still read (and dropped) before the answer. */
    private static final long DRAIN_FACTOR = 4;

    private final HttpSettings settings;
    private final HostCheck hosts;
    private final byte[] tokenDigest;
    private final Materializer materializer;

    ApiGuards(HttpSettings settings, HostCheck hosts, Materializer materializer) {
        this.settings = settings;
        this.hosts = hosts;
        this.tokenDigest = sha256(settings.token());
        this.materializer = materializer;
    }

    /** Every route: the Host header must name this server (421 otherwise). */
    Route hostAllowed(Supplier<Route> inner) {
        return extractRequest(request -> {
            String host = request.getHeader(Host.class).map(h -> h.host().address()).orElse("");
            if (hosts.allows(host)) {
                return inner.get();
            }
            return complete(ApiErrors.error(StatusCodes.MISDIRECTED_REQUEST, host.isEmpty()
                    ? "a Host header naming this server is required"
                    : "this server does not answer to the name in the Host header (allowed: "
                    + String.join(", ", hosts.names()) + "; blockferry.http.allowed-hosts)", "Host"));
        });
    }

    /** Bearer token in constant time (digests compared, so not even the length leaks). */
    Route authenticated(Supplier<Route> inner) {
        return extractRequest(request -> {
            Optional<String> inQuery;
            try {
                inQuery = request.getUri().query().get("access_token");
            } catch (RuntimeException e) {
                return complete(ApiErrors.error(StatusCodes.BAD_REQUEST, "the query string is malformed", "query"));
            }
            boolean queryAllowed = request.method().equals(HttpMethods.GET)
                    && EVENT_STREAM.matcher(request.getUri().path()).matches();
            if (inQuery.isPresent() && !queryAllowed) {
                return complete(unauthorized("a token in the query (?access_token=) is accepted only by GET"
                        + " /api/v1/jobs/{id}/events; send it as the header Authorization: Bearer TOKEN",
                        "access_token"));
            }
            Optional<String> header = request.getHeader("Authorization").map(h -> h.value().trim());
            String presented = header.isPresent() ? bearer(header.get()) : inQuery.orElse(null);
            if (presented != null && MessageDigest.isEqual(tokenDigest, sha256(presented))) {
                return inner.get();
            }
            return complete(unauthorized(presented == null
                    ? "a bearer token is required (Authorization: Bearer TOKEN)" : "the bearer token is not valid",
                    header.isPresent() || inQuery.isEmpty() ? "Authorization" : "access_token"));
        });
    }

    private static String bearer(String header) {
        return header.regionMatches(true, 0, "Bearer ", 0, 7) ? header.substring(7).trim() : null;
    }

    private static HttpResponse unauthorized(String message, String field) {
        return ApiErrors.error(StatusCodes.UNAUTHORIZED, message, field)
                .addHeader(WWWAuthenticate.create(HttpChallenge.create("Bearer", "blockferry")));
    }

    /**
     * A state-changing route: the body must be {@code application/json} (415; a cross-site form
     * cannot send it), at most {@code max-body} bytes (413), and arrive within
     * {@code body-timeout} (408, and the connection is closed).
     */
    Route jsonBody(Function<byte[], CompletionStage<HttpResponse>> handler) {
        return extractRequest(request -> {
            var type = request.entity().getContentType();
            if (!type.mediaType().equals(MediaTypes.APPLICATION_JSON)) {
                String got = type.equals(ContentTypes.NO_CONTENT_TYPE) ? "none" : type.mediaType().toString();
                return completeWithFuture(drained(request, ApiErrors.error(StatusCodes.UNSUPPORTED_MEDIA_TYPE,
                        "the body must be JSON (Content-Type: application/json), got " + got, "Content-Type")));
            }
            var length = request.entity().getContentLengthOption();
            if (length.isPresent() && length.getAsLong() > settings.limits().maxBodyBytes()) {
                return completeWithFuture(drained(request, tooLarge()));
            }
            // only the body's own failures are mapped here: an ask timeout of the handler is no 408
            return completeWithFuture(body(request).handle(Received::new).thenCompose(r -> r.failure() == null
                    ? handler.apply(r.body()) : CompletableFuture.completedFuture(bodyFailure(r.failure()))));
        });
    }

    private record Received(byte[] body, Throwable failure) {
    }

    /**
     * {@code response} once the body that will not be read is read and dropped, up to
     * {@link #DRAIN_FACTOR} times {@code max-body} and within {@code body-timeout}: a connection
     * closed with a body still unread is reset by the kernel, and the client may lose the answer
     * with it. A longer body is not waited for (the answer says the connection closes).
     */
    private CompletionStage<HttpResponse> drained(HttpRequest request, HttpResponse response) {
        long limit = settings.limits().maxBodyBytes() * DRAIN_FACTOR;
        var length = request.entity().getContentLengthOption();
        HttpResponse closing = response.getHeader(Connection.class).isPresent() ? response
                : response.addHeader(Connection.create("close"));
        if (request.entity().isStrict() || length.isPresent() && length.getAsLong() > limit) {
            return CompletableFuture.completedFuture(closing);
        }
        return request.entity().withSizeLimit(limit).getDataBytes()
                .completionTimeout(settings.limits().bodyTimeout())
                .runWith(Sink.ignore(), materializer)
                .handle((done, failure) -> closing);
    }

    private CompletionStage<byte[]> body(HttpRequest request) {
        return request.entity().withSizeLimit(settings.limits().maxBodyBytes())
                .toStrict(settings.limits().bodyTimeout().toMillis(), materializer)
                .thenApply(strict -> strict.getData().toArray());
    }

    private HttpResponse bodyFailure(Throwable t) {
        for (Throwable e = t; e != null; e = e.getCause()) {
            if (e instanceof EntityStreamSizeException) {
                return tooLarge();
            }
            if (e instanceof TimeoutException) {
                return ApiErrors.error(StatusCodes.REQUEST_TIMEOUT, "the body did not arrive within "
                        + settings.limits().bodyTimeout().toMillis() + " ms (blockferry.http.body-timeout)", "body")
                        .addHeader(Connection.create("close"));
            }
        }
        throw t instanceof RuntimeException r ? r : new CompletionException(t);
    }

    private HttpResponse tooLarge() {
        return ApiErrors.error(StatusCodes.PAYLOAD_TOO_LARGE, "the body is larger than "
                + settings.limits().maxBodyBytes() + " bytes (blockferry.http.max-body)", "body")
                .addHeader(Connection.create("close"));
    }

    private static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JVM has no SHA-256", e);
        }
    }
}
