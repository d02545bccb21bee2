import { log, type LogFields } from "../observability/logging";
import { isOrderEmailMessage } from "../services/email-outbox";

/**
 * The one JSON log line (src/observability/logging.ts) each queue message ends in, with the job fields the request
 * lines share: job, outcome, queue, message_id, attempt (the delivery), duration_ms, and, once the
 * body is known to be an order e-mail message, request_id (of the request that placed the order),
 * outbox_id and order_id.
 */

export const ORDER_EMAIL_JOB = "order_confirmation_email";

/** `suppressed`: deliberately not sent (its recipient's cap); a warning, as a stream of them means someone is trying. */
export type JobOutcome = "ok" | "retry" | "failed" | "dead_letter" | "skipped" | "suppressed";

const LEVELS: Record<JobOutcome, "info" | "warn" | "error"> = {
  ok: "info",
  skipped: "info",
  suppressed: "warn",
  retry: "warn",
  failed: "error",
  dead_letter: "error",
};

export type JobLog = {
  /** Fields every later line of this message carries (e.g. send_attempt once claimed). */
  readonly fields: LogFields;
  /** Writes the message's line; duration_ms counts from `started` (the batch's start). */
  done(outcome: JobOutcome, msg: string, extra?: LogFields): void;
};

/** The log of one message of a batch from `queue`, the batch having started at `started` (ms). */
export function jobLog(message: Message<unknown>, queue: string, started: number): JobLog {
  const fields: LogFields = { job: ORDER_EMAIL_JOB, queue, message_id: message.id, attempt: message.attempts };
  if (isOrderEmailMessage(message.body)) {
    const { request_id, outbox_id, order_id } = message.body;
    Object.assign(fields, { request_id, outbox_id, order_id });
  }
  return {
    fields,
    // The job's own fields (which job, what became of it) cannot be overwritten by `extra`.
    done: (outcome, msg, extra = {}) =>
      log(
        LEVELS[outcome],
        msg,
        Object.assign({ ...fields, outcome }, extra, { job: ORDER_EMAIL_JOB, outcome, duration_ms: Date.now() - started }),
      ),
  };
}
