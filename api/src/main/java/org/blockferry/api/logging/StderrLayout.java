package org.blockferry.api.logging;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.CoreConstants;
import ch.qos.logback.core.LayoutBase;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;

/**
 * {@link StderrLogging#PATTERN}'s line, written directly: time, level, the logger's last name,
 * the escaped message, then any stack trace indented — the same text as a {@code PatternLayout}
 * of that pattern with BlockFerry's conversions. Starting a {@code PatternLayout} (its ~80
 * converters, the pattern's parser, a date formatter and the time zone rules) took logback's start
 * from 28–29 ms to 35–41 ms on the 2-core benchmark machine; this layout builds its formatter and
 * throwable converter at the first event that needs them (a {@code copy} at the default WARN level
 * usually logs none).
 */
public final class StderrLayout extends LayoutBase<ILoggingEvent> {
    private volatile DateTimeFormatter time;
    private volatile IndentedThrowableConverter throwable;

    @Override
    public String doLayout(ILoggingEvent event) {
        StringBuilder line = new StringBuilder(160);
        time().formatTo(Instant.ofEpochMilli(event.getTimeStamp()), line);
        line.append(' ');
        String level = event.getLevel().toString();
        line.append(level);
        for (int i = level.length(); i < 5; i++) {
            line.append(' ');
        }
        line.append(' ');
        String logger = event.getLoggerName();
        line.append(logger, logger.lastIndexOf('.') + 1, logger.length());
        line.append(' ').append(LogText.escape(event.getFormattedMessage())).append(CoreConstants.LINE_SEPARATOR);
        if (event.getThrowableProxy() != null) {
            line.append(throwable().convert(event));
        }
        return line.toString();
    }

    private DateTimeFormatter time() {
        DateTimeFormatter t = time;
        if (t == null) {
            t = DateTimeFormatter.ofPattern("HH:mm:ss.SSS").withZone(ZoneId.systemDefault());
            time = t;
        }
        return t;
    }

    private IndentedThrowableConverter throwable() {
        IndentedThrowableConverter t = throwable;
        if (t == null) {
            synchronized (this) {
                t = throwable;
                if (t == null) {
                    t = new IndentedThrowableConverter();
                    t.setContext(getContext());
                    t.start();
                    throwable = t;
                }
            }
        }
        return t;
    }
}
