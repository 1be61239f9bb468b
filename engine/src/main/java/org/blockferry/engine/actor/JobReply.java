package org.blockferry.engine.actor;

import org.blockferry.engine.CborSerializable;
import org.blockferry.engine.job.JobState;

/**
 * The answer to a submission or a cancel: accepted with the job's state, or rejected with a
 * reason code, a message an operator can act on and the field it is about (a record rather than
 * {@code StatusReply.error(Throwable)}, which cannot cross cluster nodes).
 */
public sealed interface JobReply extends CborSerializable {

    /** Why a request was refused; the API maps each to an HTTP status. */
    enum Reason {
        /** A field contradicts the job itself, e.g. a disk's target is its own source (400). */
        INVALID,
        /** The job id exists with a different spec (409). */
        CONFLICT,
        /** A target is read by another job that has not ended (409). */
        LOCATION_IN_USE,
        /** No job with this id (404). */
        UNKNOWN_JOB,
        /** The job has already ended (409). */
        ALREADY_FINISHED
    }

    record Accepted(JobState state) implements JobReply {
    }

    /** {@code field}: the request field the refusal is about ({@code disks[1].target}), or null. */
    record Rejected(Reason reason, String message, String field) implements JobReply {
        public Rejected(Reason reason, String message) {
            this(reason, message, null);
        }
    }
}
