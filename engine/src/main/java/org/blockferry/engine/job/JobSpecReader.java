package org.blockferry.engine.job;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.exc.InputCoercionException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashSet;
import java.util.Iterator;
import java.util.Set;
import org.blockferry.engine.endpoint.InvalidInputException;
import org.blockferry.engine.plan.CopyMode;

/**
 * Reads a job spec from JSON strictly: unknown fields, wrong types and malformed JSON are
 * {@link InvalidInputException}s naming the field ({@code disks[0].target}). Before binding, one
 * pass over the tokens refuses what no job needs and a hostile client might send: a key twice in
 * one object, nesting deeper than {@value #MAX_DEPTH}, a string longer than {@value #MAX_STRING}
 * characters or holding a control character, more disks than the node allows.
 */
public final class JobSpecReader {
    /** Objects and arrays nested deeper than this are refused (a job spec needs four levels). */
    public static final int MAX_DEPTH = 32;
    /** The longest string (and key) a spec may hold: ids, names, paths and URIs alike. */
    public static final int MAX_STRING = 4096;
    /** Disks per job unless {@code blockferry.jobs.max-disks-per-job} says otherwise. */
    public static final int DEFAULT_MAX_DISKS = 64;
    private static final String MAX_DISKS_KEY = "blockferry.jobs.max-disks-per-job";
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

    /** {@code blockferry.jobs.max-disks-per-job}, checked. */
    public static int maxDisks(Config config) {
        int max;
        try {
            max = config.getInt(MAX_DISKS_KEY);
        } catch (ConfigException e) {
            throw new InvalidInputException(MAX_DISKS_KEY, "must be a whole number (" + e.getMessage() + ")");
        }
        if (max < 1) {
            throw new InvalidInputException(MAX_DISKS_KEY, "must be at least 1, got " + max);
        }
        return max;
    }

    /** The spec in {@code json} with at most {@value #DEFAULT_MAX_DISKS} disks; see {@link #read(byte[], int)}. */
    public static JobSpec read(byte[] json) {
        return read(json, DEFAULT_MAX_DISKS);
    }

    /**
     * The spec in {@code json}, not yet validated ({@link JobSpec#validated()} checks the values);
     * a spec with more than {@code maxDisks} disks is refused naming {@code disks}.
     */
    public static JobSpec read(byte[] json, int maxDisks) {
        new Shape(maxDisks).check(json);
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
        } catch (JsonMappingException e) {
            // a number out of its type's range has a field to name; broken JSON is the body's
            if (path(e).isEmpty() || !(e.getCause() instanceof InputCoercionException)) {
                throw new InvalidInputException("body", "is not valid JSON: " + e.getOriginalMessage());
            }
            throw new InvalidInputException(path(e), "is out of range: " + e.getOriginalMessage());
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

    /**
     * The token pass: walks the JSON once, keeping the path of where it is, and refuses the
     * first thing out of bounds naming that path. Malformed JSON is left to the binding, which
     * says what is wrong with it.
     */
    private static final class Shape {
        private final int maxDisks;
        private final Deque<Level> levels = new ArrayDeque<>();

        /** One open object (its keys so far, the current key) or array (the current index). */
        private static final class Level {
            final Set<String> keys;
            String key;
            int index = -1;

            Level(boolean object) {
                this.keys = object ? new HashSet<>() : null;
            }
        }

        Shape(int maxDisks) {
            this.maxDisks = maxDisks;
        }

        void check(byte[] json) {
            try (JsonParser p = JSON.getFactory().createParser(json)) {
                JsonToken t;
                while ((t = p.nextToken()) != null) {
                    if (!levels.isEmpty() && levels.peek().keys == null && t != JsonToken.END_ARRAY) {
                        levels.peek().index++;
                        if (levels.size() == 2 && "disks".equals(parentKey()) && levels.peek().index >= maxDisks) {
                            throw new InvalidInputException("disks", "a job may have at most " + maxDisks
                                    + " disks (" + MAX_DISKS_KEY + ")");
                        }
                    }
                    switch (t) {
                        case START_OBJECT, START_ARRAY -> open(t == JsonToken.START_OBJECT);
                        case END_OBJECT, END_ARRAY -> levels.pop();
                        case FIELD_NAME -> key(p.currentName());
                        case VALUE_STRING -> text(path(), p.getText());
                        default -> { }
                    }
                    if (levels.isEmpty()) {
                        return; // the root value is complete; trailing content is the binding's to refuse
                    }
                }
            } catch (JsonProcessingException e) {
                // malformed: the binding reports it in the same words as always
            } catch (java.io.IOException e) {
                throw new InvalidInputException("body", "cannot be read: " + e.getMessage());
            }
        }

        private void open(boolean object) {
            if (levels.size() >= MAX_DEPTH) {
                throw new InvalidInputException(levels.isEmpty() ? "body" : path(), "is nested deeper than "
                        + MAX_DEPTH + " levels");
            }
            levels.push(new Level(object));
        }

        private void key(String name) {
            Level object = levels.peek();
            text(levels.size() == 1 ? "body" : pathOf(levels.size() - 1), name);
            object.key = name;
            if (!object.keys.add(name)) {
                throw new InvalidInputException(path(), "appears twice in one object");
            }
        }

        private static void text(String field, String value) {
            if (value.length() > MAX_STRING) {
                throw new InvalidInputException(field, "is " + value.length() + " characters long; at most "
                        + MAX_STRING);
            }
            for (int i = 0; i < value.length(); i++) {
                char c = value.charAt(i);
                if (Character.isISOControl(c) || c == '\u2028' || c == '\u2029') {
                    throw new InvalidInputException(field, String.format("contains the control character U+%04X at"
                            + " position %d", (int) c, i));
                }
            }
        }

        private String parentKey() {
            Iterator<Level> it = levels.iterator();
            it.next();
            return it.next().key;
        }

        /** Where the parser is: {@code disks[2].target}, or {@code body} at the top. */
        private String path() {
            return pathOf(levels.size());
        }

        /** The path through the outermost {@code depth} levels. */
        private String pathOf(int depth) {
            StringBuilder p = new StringBuilder();
            Iterator<Level> it = levels.descendingIterator();
            for (int i = 0; i < depth && it.hasNext(); i++) {
                Level l = it.next();
                if (l.keys == null) {
                    p.append('[').append(Math.max(l.index, 0)).append(']');
                } else if (l.key != null) {
                    p.append(p.length() > 0 ? "." : "").append(l.key);
                }
            }
            return p.length() == 0 ? "body" : p.toString();
        }
    }
}
