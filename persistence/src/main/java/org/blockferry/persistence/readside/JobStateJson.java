package org.blockferry.persistence.readside;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.blockferry.engine.job.JobState;

/** A {@link JobState} as the read side stores it: JSON, read back into the same record. */
final class JobStateJson {
    private static final ObjectMapper JSON = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

    private JobStateJson() {
    }

    /** A state, or a spec, as JSON. */
    static String write(Object value) {
        try {
            return JSON.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write " + value.getClass().getSimpleName() + " as JSON", e);
        }
    }

    static JobState read(String json) {
        try {
            return JSON.readValue(json, JobState.class);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("the read side holds a job state it cannot read: " + e.getMessage(), e);
        }
    }
}
