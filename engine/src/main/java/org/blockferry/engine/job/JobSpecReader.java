package org.blockferry.engine.job;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.plan.CopyMode;

/**
 * Reads a job spec from JSON strictly: unknown fields, wrong types and malformed JSON are
 * {@link InvalidInputException}s naming the field ({@code disks[0].target}).
 */
public final class JobSpecReader {
    private static final ObjectMapper JSON = strict();

    private static ObjectMapper strict() {
        ObjectMapper m = new ObjectMapper()
                .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
                .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
                .disable(com.fasterxml.jackson.databind.MapperFeature.ALLOW_COERCION_OF_SCALARS);
        // A number or a boolean where text is expected is a mistake, not a string.
        m.coercionConfigFor(com.fasterxml.jackson.databind.type.LogicalType.Textual)
                .setCoercion(com.fasterxml.jackson.databind.cfg.CoercionInputShape.Integer,
                        com.fasterxml.jackson.databind.cfg.CoercionAction.Fail)
                .setCoercion(com.fasterxml.jackson.databind.cfg.CoercionInputShape.Float,
                        com.fasterxml.jackson.databind.cfg.CoercionAction.Fail)
                .setCoercion(com.fasterxml.jackson.databind.cfg.CoercionInputShape.Boolean,
                        com.fasterxml.jackson.databind.cfg.CoercionAction.Fail);
        return m;
    }

    private JobSpecReader() {
    }

    /** The spec in {@code json}, not yet validated ({@link JobSpec#validated()} checks the values). */
    public static JobSpec read(byte[] json) {
        try {
            JobSpec spec = JSON.readValue(json, JobSpec.class);
            if (spec == null) {
                throw new InvalidInputException("body", "is empty (expected a JSON object)");
            }
            return spec;
        } catch (UnrecognizedPropertyException e) {
            if (path(e).equals("source." + e.getPropertyName())
                    && JobSpec.Source.REMOVED_FIELDS.contains(e.getPropertyName())) {
                throw new InvalidInputException(path(e), JobSpec.Source.NAME_A_VCENTER);
            }
            throw new InvalidInputException(path(e), "unknown field '" + e.getPropertyName() + "'");
        } catch (ValueInstantiationException e) {
            if (e.getCause() instanceof InvalidInputException invalid) {
                throw new InvalidInputException(path(e).isEmpty() ? invalid.field() : path(e), message(invalid));
            }
            throw new InvalidInputException(path(e), "has an invalid value");
        } catch (InvalidFormatException e) {
            throw new InvalidInputException(path(e), "'" + e.getValue() + "' has the wrong type (expected "
                    + typeName(e) + ")");
        } catch (MismatchedInputException e) {
            throw new InvalidInputException(path(e).isEmpty() ? "body" : path(e), "has the wrong type (expected "
                    + typeName(e) + ")");
        } catch (JsonProcessingException e) {
            throw new InvalidInputException("body", "is not valid JSON: " + e.getOriginalMessage());
        } catch (java.io.IOException e) {
            throw new InvalidInputException("body", "cannot be read: " + e.getMessage());
        }
    }

    private static String message(InvalidInputException e) {
        String m = e.getMessage();
        return m.startsWith(e.field() + ": ") ? m.substring(e.field().length() + 2) : m;
    }

    private static String typeName(MismatchedInputException e) {
        Class<?> t = e.getTargetType();
        if (t == null) {
            return "value";
        }
        if (t == int.class || t == Integer.class || t == long.class) {
            return "a whole number";
        }
        if (t == boolean.class || t == Boolean.class) {
            return "true or false";
        }
        if (t == String.class) {
            return "a string";
        }
        if (java.util.List.class.isAssignableFrom(t)) {
            return "a list";
        }
        if (t == CopyMode.class) {
            return "mode (full, incremental or auto)";
        }
        return "an object";
    }

    /** {@code disks[1].target} from Jackson's reference path. */
    static String path(JsonMappingException e) {
        StringBuilder p = new StringBuilder();
        for (JsonMappingException.Reference r : e.getPath()) {
            if (r.getIndex() >= 0) {
                p.append('[').append(r.getIndex()).append(']');
            } else if (r.getFieldName() != null) {
                if (p.length() > 0) {
                    p.append('.');
                }
                p.append(r.getFieldName());
            }
        }
        return p.toString();
    }
}
