package org.blockferry.api.logging;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.Configurator;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.Context;
import ch.qos.logback.core.CoreConstants;
import ch.qos.logback.core.pattern.DynamicConverter;
import ch.qos.logback.core.encoder.Encoder;
import ch.qos.logback.core.encoder.LayoutWrappingEncoder;
import ch.qos.logback.core.spi.ContextAwareBase;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * BlockFerry's logging, set up in code (parsing logback.xml costs a tenth of a second at every
 * start): one line per event on stderr, level from {@code BLOCKFERRY_LOG_LEVEL} (default WARN),
 * Pekko at WARN. Messages are escaped and stack traces indented ({@link LogText}), so no value
 * can forge an event. Setting {@code -Dlogback.configurationFile=FILE} uses that file instead;
 * its {@code %msg} and {@code %ex} are escaped and indented all the same.
 */
public final class StderrLogging extends ContextAwareBase implements Configurator {
    /** The line of every event: time, level, logger, message, then any stack trace indented. */
    public static final String PATTERN = "%d{HH:mm:ss.SSS} %-5level %logger{0} %msg%n%ex";

    @Override
    public ExecutionStatus configure(LoggerContext context) {
        return configure(context, System.getProperty("logback.configurationFile"));
    }

    /** {@link #configure(LoggerContext)} with the operator's logback file ({@code null}: none). */
    ExecutionStatus configure(LoggerContext context, String configurationFile) {
        if (configurationFile != null) {
            escapeConversions(context); // before the file's patterns are built by the next configurator
            return ExecutionStatus.INVOKE_NEXT_IF_ANY;
        }
        ConsoleAppender<ILoggingEvent> stderr = new ConsoleAppender<>();
        stderr.setContext(context);
        stderr.setName("STDERR");
        stderr.setTarget("System.err");
        stderr.setEncoder(encoder(context));
        stderr.start();
        Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
        root.setLevel(Level.toLevel(System.getenv("BLOCKFERRY_LOG_LEVEL"), Level.WARN));
        root.addAppender(stderr);
        context.getLogger("org.apache.pekko").setLevel(Level.WARN);
        return ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY;
    }

    /** The encoder of {@link #PATTERN}'s lines ({@link StderrLayout}; for the stderr appender, and for tests of what it writes). */
    public static Encoder<ILoggingEvent> encoder(LoggerContext context) {
        StderrLayout layout = new StderrLayout();
        layout.setContext(context);
        layout.start();
        LayoutWrappingEncoder<ILoggingEvent> encoder = new LayoutWrappingEncoder<>();
        encoder.setContext(context);
        encoder.setLayout(layout);
        encoder.start();
        return encoder;
    }

    /** Makes {@code %m}, {@code %msg}, {@code %message}, {@code %ex}... in any pattern of {@code context} ours. */
    @SuppressWarnings("unchecked")
    static void escapeConversions(Context context) {
        Map<String, Supplier<DynamicConverter>> rules = (Map<String, Supplier<DynamicConverter>>) context.getObject(
                CoreConstants.PATTERN_RULE_REGISTRY_FOR_SUPPLIERS);
        if (rules == null) {
            rules = new HashMap<>();
            context.putObject(CoreConstants.PATTERN_RULE_REGISTRY_FOR_SUPPLIERS, rules);
        }
        for (String word : List.of("m", "msg", "message")) {
            rules.put(word, EscapedMessageConverter::new);
        }
        for (String word : List.of("ex", "exception", "throwable")) {
            rules.put(word, IndentedThrowableConverter::new);
        }
    }
}
