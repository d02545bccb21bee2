import { errorFields, log, type LogFields, type LogLevel } from "../log";

/**
 * Structured lines for requests and queue jobs, on top of the one JSON logger (src/log.ts). Field
 * names are snake_case and shared: `request_id` ties a request's line to the jobs it enqueued.
 */

/** The per-request line is on unless LOG_REQUESTS is "false" (the benchmark turns it off). Failed requests always log. */
export function requestLogEnabled(env: { LOG_REQUESTS?: string }): boolean {
  const value = env.LOG_REQUESTS?.trim().toLowerCase();
  return value !== "false" && value !== "0" && value !== "off";
}

const RESERVED = new Set(["time", "level", "msg"]);

export type JobOutcome = "ok" | "retry" | "failed" | "dead_letter" | "skipped";

export type JobLogEntry = {
  /** What the job does, e.g. "order-confirmation-email". */
  job: string;
  /** The queue it came from (`batch.queue`). */
  queue?: string;
  /** `message.id`. */
  messageId?: string;
  /** `message.attempts` (1 on the first delivery). */
  attempt?: number;
  outcome: JobOutcome;
  durationMs?: number;
  /** The request that enqueued the job, when the message carries it: joins the job's line to the request's. */
  requestId?: string;
  /** The error of a failed or retried attempt: its message and stack go to the server log only. */
  error?: unknown;
  /** Anything else worth indexing (e.g. order_id). */
  fields?: LogFields;
};

/**
 * One JSON line per queue job attempt, for the queue consumer:
 *
 *   logJob({ job: "order-confirmation-email", queue: batch.queue, messageId: msg.id, attempt: msg.attempts,
 *            outcome: "ok", durationMs: Date.now() - started, requestId: msg.body.requestId,
 *            fields: { order_id: msg.body.orderId } });
 *
 * Level: "error" for failed and dead-lettered attempts, "warn" for retries, "info" otherwise.
 */
export function logJob(entry: JobLogEntry): void {
  const level: LogLevel =
    entry.outcome === "failed" || entry.outcome === "dead_letter" ? "error" : entry.outcome === "retry" ? "warn" : "info";
  const fields: LogFields = {};
  // The logger's own keys (time, level, msg) stay the logger's.
  for (const [key, value] of Object.entries(entry.fields ?? {})) if (!RESERVED.has(key)) fields[key] = value;
  fields.job = entry.job;
  fields.outcome = entry.outcome;
  if (entry.queue !== undefined) fields.queue = entry.queue;
  if (entry.messageId !== undefined) fields.message_id = entry.messageId;
  if (entry.attempt !== undefined) fields.attempt = entry.attempt;
  if (entry.durationMs !== undefined) fields.duration_ms = Math.round(entry.durationMs * 100) / 100;
  if (entry.requestId !== undefined) fields.request_id = entry.requestId;
  if (entry.error !== undefined) Object.assign(fields, errorFields(entry.error));
  log(level, "job", fields);
}

const lastWarned = new Map<string, number>();

/** A warning at most once a minute per key and isolate: a broken metrics path must not flood the logs. */
export function warnThrottled(key: string, msg: string, fields: LogFields = {}, intervalMs = 60_000): void {
  const now = Date.now();
  const last = lastWarned.get(key);
  if (last !== undefined && now - last < intervalMs) return;
  lastWarned.set(key, now);
  log("warn", msg, fields);
}
