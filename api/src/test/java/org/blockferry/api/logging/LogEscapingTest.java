package org.blockferry.api.logging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.encoder.Encoder;
import ch.qos.logback.classic.spi.LoggingEvent;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * What BlockFerry's log encoder writes: one line per event whatever its message and arguments
 * hold, stack traces indented, so a value from a request cannot forge an event.
 */
class LogEscapingTest {
    /** The start of an event as {@link StderrLogging#PATTERN} writes it. */
    private static final Pattern EVENT = Pattern.compile("\\d\\d:\\d\\d:\\d\\d\\.\\d{3} (TRACE|DEBUG|INFO |WARN |ERROR) .*");
    private static final String FORGED = "12:00:00.000 ERROR ApiRoutes event=admin-login user=root";

    private static String render(String message, Object[] args, Throwable t) {
        LoggerContext context = new LoggerContext();
        Encoder<ILoggingEvent> encoder = StderrLogging.encoder(context);
        LoggingEvent event = new LoggingEvent("org.blockferry.Test", context.getLogger("org.blockferry.api.http.ApiRoutes"),
                Level.WARN, message, t, args);
        return new String(encoder.encode(event), StandardCharsets.UTF_8);
    }

    /** What a PatternLayout of {@link StderrLogging#PATTERN} with BlockFerry's conversions writes (a custom logback file's way). */
    private static String renderWithPattern(LoggingEvent event, LoggerContext context) {
        StderrLogging.escapeConversions(context);
        PatternLayoutEncoder encoder = new PatternLayoutEncoder();
        encoder.setContext(context);
        encoder.setPattern(StderrLogging.PATTERN);
        encoder.start();
        return new String(encoder.encode(event), StandardCharsets.UTF_8);
    }

    @Test
    void theDirectLayoutWritesWhatThePatternDescribes() {
        LoggerContext context = new LoggerContext();
        Encoder<ILoggingEvent> direct = StderrLogging.encoder(context);
        Exception nested = new IllegalStateException("outer\n" + FORGED, new java.io.IOException("inner\u001b[31m"));
        nested.addSuppressed(new RuntimeException("suppressed"));
        Object[][] cases = {
            {"org.blockferry.api.http.ApiRoutes", Level.WARN, "event=job-refused vm={}", new Object[] {"web01\n" + FORGED}, null},
            {"org.apache.pekko.actor.ActorSystemImpl", Level.ERROR, "failed: {}", new Object[] {"x"}, nested},
            {"NoDots", Level.INFO, "plain \u2028 text", null, null},
            {"a.b.C", Level.DEBUG, "debug", null, new RuntimeException()},
            {"a.b.Trace", Level.TRACE, "", null, null},
        };
        int checked = 0;
        for (Object[] c : cases) {
            LoggingEvent event = new LoggingEvent("org.blockferry.Test", context.getLogger((String) c[0]), (Level) c[1],
                    (String) c[2], (Throwable) c[4], (Object[]) c[3]);
            String expected = renderWithPattern(event, context);
            assertEquals(expected, new String(direct.encode(event), StandardCharsets.UTF_8));
            assertTrue(EVENT.matcher(expected.lines().findFirst().orElseThrow()).matches(), expected);
            checked++;
        }
        assertEquals(cases.length, checked);
    }

    /** Lines that start without white space: each must be an event of its own. */
    private static List<String> eventLines(String text) {
        return text.lines().filter(l -> !l.isEmpty() && !Character.isWhitespace(l.charAt(0))).toList();
    }

    @Test
    void aLineBreakInAnArgumentCannotStartAnotherEvent() {
        String out = render("event=job-refused vm={}", new Object[] {"web01\n" + FORGED + "\r\n" + FORGED}, null);
        assertEquals(1, out.lines().count(), out);
        assertTrue(out.contains("vm=web01\\n" + FORGED + "\\r\\n" + FORGED), out);
        assertTrue(EVENT.matcher(out.trim()).matches(), out);
    }

    @Test
    void terminalEscapesAndOtherControlsAreShownNotSent() {
        String out = render("path={}", new Object[] {"/tmp/\u001b[31mred\u0000\u007f\u0085\u2028x\ty"}, null);
        assertEquals(1, out.lines().count(), out);
        assertTrue(out.contains("/tmp/\\u001b[31mred\\u0000\\u007f\\u0085\\u2028x\\ty"), out);
    }

    @Test
    void aStackTraceIsIndentedWhateverItsMessagesHold() {
        Exception e = new IllegalStateException("bad value\n" + FORGED, new java.io.IOException("cause\r\n" + FORGED));
        String out = render("event=api-internal-error error={}", new Object[] {e.toString()}, e);
        List<String> events = eventLines(out);
        assertEquals(1, events.size(), "one line starts an event; the rest are indented:\n" + out);
        assertTrue(out.lines().count() > 3, "the stack trace is there:\n" + out);
        assertTrue(out.contains("\tat org.blockferry.api.logging.LogEscapingTest"), out);
        assertTrue(out.lines().anyMatch(l -> l.startsWith("\tCaused by: java.io.IOException")), out);
    }

    @Test
    void anOperatorsLogbackFileGetsTheEscapingConversionsToo() {
        LoggerContext context = new LoggerContext();
        assertEquals(ch.qos.logback.classic.spi.Configurator.ExecutionStatus.INVOKE_NEXT_IF_ANY,
                new StderrLogging().configure(context, "/etc/blockferry/logback.xml"));
        // What the operator's file would declare, built on the same context after the configurator ran.
        PatternLayoutEncoder encoder = new PatternLayoutEncoder();
        encoder.setContext(context);
        encoder.setPattern("%level %msg%n%ex");
        encoder.start();
        Exception e = new IllegalStateException("bad\n" + FORGED);
        String out = new String(encoder.encode(new LoggingEvent("org.blockferry.Test", context.getLogger("x"), Level.WARN,
                "vm={}", e, new Object[] {"web01\n" + FORGED})), StandardCharsets.UTF_8);
        assertTrue(out.startsWith("WARN vm=web01\\n" + FORGED), out);
        assertEquals(1, eventLines(out).size(), "one line starts an event; the stack trace is indented:\n" + out);
        assertTrue(context.getLogger(ch.qos.logback.classic.Logger.ROOT_LOGGER_NAME).getAppender("STDERR") == null,
                "the operator's file decides the appenders");
    }

    @Test
    void withoutAFileTheStderrAppenderWritesTheDirectLayout() {
        LoggerContext context = new LoggerContext();
        assertEquals(ch.qos.logback.classic.spi.Configurator.ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY,
                new StderrLogging().configure(context, null));
        var appender = (ch.qos.logback.core.ConsoleAppender<ILoggingEvent>)
                context.getLogger(ch.qos.logback.classic.Logger.ROOT_LOGGER_NAME).getAppender("STDERR");
        assertTrue(appender.isStarted());
        assertTrue(((ch.qos.logback.core.encoder.LayoutWrappingEncoder<ILoggingEvent>) appender.getEncoder()).getLayout()
                instanceof StderrLayout);
    }

    @Test
    void cleanTextIsLeftAsItIs() {
        assertEquals("event=copy-completed disk=root bytes=42", LogText.escape("event=copy-completed disk=root bytes=42"));
        assertEquals("C:\\images\\x.img", LogText.escape("C:\\images\\x.img"));
    }
}
