package org.blockferry.engine.actor;

import org.blockferry.engine.CborSerializable;
import org.blockferry.engine.job.JobState;

/**
 * The answer to a submission or a cancel: accepted with the job's state, or rejected with a
 * reason code (a record rather than {@code StatusReply.error(Throwable)}, which cannot cross
 * cluster nodes).
 */
public sealed interface JobReply extends CborSerializable {

    /** Why a request was refused; the API maps each to an HTTP status. */
    enum Reason {
        /** The job id exists with a different spec (409). */
        CONFLICT,
        /** No job with this id (404). */
        UNKNOWN_JOB,
        /** The job has already ended (409). */
        ALREADY_FINISHED
    }

    record Accepted(JobState state) implements JobReply {
    }

    record Rejected(Reason reason, String message) implements JobReply {
    }
}
