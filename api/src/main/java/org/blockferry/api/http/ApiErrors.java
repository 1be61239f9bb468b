package org.blockferry.api.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntity;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.MediaTypes;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RetryAfter;
import org.apache.pekko.http.javadsl.server.ExceptionHandler;
import org.apache.pekko.http.javadsl.server.RejectionHandler;
import org.blockferry.engine.source.vmware.VcenterException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place that turns failures into HTTP responses, all of one shape:
 * {@code {"error": {"code", "message", "field"}}}. No stack trace ever reaches a client.
 */
final class ApiErrors {
    private static final Logger log = LoggerFactory.getLogger(ApiErrors.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Seconds a client told vCenter is unreachable should wait before it submits again. */
    private static final long VCENTER_RETRY_SECONDS = 30;

    private ApiErrors() {
    }

    static HttpResponse error(StatusCode status, String message, String field) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("code", code(status));
        body.put("message", message);
        body.put("field", field);
        return json(status, Map.of("error", body));
    }

    static HttpResponse json(StatusCode status, Object body) {
        try {
            return HttpResponse.create().withStatus(status)
                    .withEntity(ContentTypes.APPLICATION_JSON, JSON.writeValueAsBytes(body));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write a response as JSON", e);
        }
    }

    /** A stable, machine-readable name for each status we answer with. */
    static String code(StatusCode status) {
        return switch (status.intValue()) {
            case 400 -> "invalid_request";
            case 401 -> "unauthorized";
            case 404 -> "not_found";
            case 405 -> "method_not_allowed";
            case 406 -> "not_acceptable";
            case 408 -> "request_timeout";
            case 409 -> "conflict";
            case 413 -> "payload_too_large";
            case 415 -> "unsupported_media_type";
            case 421 -> "misdirected_request";
            case 429 -> "too_many_requests";
            case 502 -> "bad_gateway";
            case 503 -> "unavailable";
            default -> status.intValue() >= 500 ? "internal" : "error";
        };
    }

    /** Pekko's own rejections (unknown path, wrong method, bad query...), rewritten into our shape. */
    static RejectionHandler rejections() {
        return RejectionHandler.defaultHandler().mapRejectionResponse(response -> {
            if (response.entity().getContentType().mediaType().equals(MediaTypes.APPLICATION_JSON)) {
                return response;
            }
            String text = response.entity() instanceof HttpEntity.Strict strict
                    ? strict.getData().utf8String().trim() : response.status().reason();
            HttpResponse ours = error(response.status(), text.isEmpty() ? response.status().reason() : text, null);
            return ours.withHeaders(response.getHeaders());
        });
    }

    /**
     * vCenter did not answer what the node asked it for a client: 503 with {@code Retry-After}
     * when it could not be reached (try again later), 502 when it refused (the node's operator
     * must act). The message names the vCenter and the reason, never a credential.
     */
    static HttpResponse vcenter(VcenterException e) {
        if (e.kind() == VcenterException.Kind.UNREACHABLE) {
            return error(StatusCodes.SERVICE_UNAVAILABLE, e.getMessage() + "; nothing was submitted, try again later",
                    null).addHeader(RetryAfter.create(VCENTER_RETRY_SECONDS));
        }
        return error(StatusCodes.BAD_GATEWAY, e.getMessage() + "; nothing was submitted", null);
    }

    /** A request the routes did not answer within Pekko's {@code request-timeout}. */
    static HttpResponse requestTimeout(HttpRequest request) {
        return error(StatusCodes.SERVICE_UNAVAILABLE, "the server did not answer in time; try again", null);
    }

    /** Anything unexpected: 500 with a line for the client, the stack trace for our log only. */
    static ExceptionHandler exceptions() {
        return ExceptionHandler.newBuilder().matchAny(e -> {
            log.error("event=api-internal-error error={}", e.toString(), e);
            return org.apache.pekko.http.javadsl.server.Directives.complete(error(StatusCodes.INTERNAL_SERVER_ERROR,
                    "internal error (" + e.getClass().getSimpleName() + "); see the server's log", null));
        }).build();
    }
}
