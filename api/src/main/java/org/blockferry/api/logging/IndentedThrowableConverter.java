package org.blockferry.api.logging;

import ch.qos.logback.classic.pattern.ThrowableProxyConverter;
import ch.qos.logback.classic.spi.ILoggingEvent;

/** {@code %ex} with every line of the stack trace indented ({@link LogText#indent}). */
public final class IndentedThrowableConverter extends ThrowableProxyConverter {
    @Override
    public String convert(ILoggingEvent event) {
        return LogText.indent(super.convert(event));
    }
}
