import { settingsOf, type SettingsSource } from "../config";

/**
 * Structured logs: one JSON object per line, which Workers Logs indexes by field. Every log line of
 * the Worker goes through `log` so they all share the same shape. Field names are snake_case and
 * shared: `request_id` ties a request's line to the jobs it enqueued.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

/** Writes one line: `time`, `level` and `msg`, then `fields`. */
export function log(level: LogLevel, msg: string, fields: LogFields = {}): void {
  const time = new Date().toISOString();
  // The logger's own keys stay first and stay the logger's: a field cannot rename the level or the message.
  const line = JSON.stringify(Object.assign({ time, level, msg }, fields, { time, level, msg }));
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}

/**
 * An error's message and stack for the server-side log only (never for a response). drizzle's query
 * errors append the bound parameters ("params: a@b.com,…"); those can be personal data or password
 * hashes, so they are cut off: the SQL text and the Postgres error are enough to debug.
 */
export function errorFields(err: unknown): LogFields {
  if (!(err instanceof Error)) return { error: withoutParams(String(err)) };
  const fields: LogFields = { error: withoutParams(err.message), stack: err.stack && withoutParams(err.stack) };
  if (err.cause instanceof Error) fields.cause = err.cause.message;
  return fields;
}

function withoutParams(text: string): string {
  return text.replace(/\nparams: .*/g, "\nparams: [redacted]");
}

/** The per-request line is on unless LOG_REQUESTS is "false" (the benchmark turns it off; Settings.requestLog). Failed requests always log. */
export function requestLogEnabled(env: SettingsSource): boolean {
  return settingsOf(env).requestLog;
}

/**
 * How often a recurring event is logged: its first occurrence, then at most once per `intervalMs`,
 * each line with how many occurrences it stands for. Per isolate, like everything in memory here.
 */
export class LogThrottle {
  private loggedAt = Number.NEGATIVE_INFINITY;
  private unlogged = 0;

  constructor(readonly intervalMs: number) {}

  /**
   * Counts one occurrence. When a line is due now: how many occurrences it stands for (this one
   * included, and those not logged since the last line); else undefined, and the caller logs nothing.
   */
  count(now = Date.now()): number | undefined {
    this.unlogged += 1;
    if (now - this.loggedAt < this.intervalMs) return undefined;
    this.loggedAt = now;
    const occurrences = this.unlogged;
    this.unlogged = 0;
    return occurrences;
  }

  /** Ends a run of occurrences (e.g. an outage that is over): the ones not logged yet; the next one logs at once. */
  reset(): number {
    const unlogged = this.unlogged;
    this.unlogged = 0;
    this.loggedAt = Number.NEGATIVE_INFINITY;
    return unlogged;
  }
}

/** One throttle per warning key. */
const warnings = new Map<string, LogThrottle>();

/** A warning at most once a minute (`intervalMs`) per key and isolate: a broken metrics path must not flood the logs. */
export function warnThrottled(key: string, msg: string, fields: LogFields = {}, intervalMs = 60_000): void {
  let throttle = warnings.get(key);
  if (!throttle) {
    throttle = new LogThrottle(intervalMs);
    warnings.set(key, throttle);
  }
  if (throttle.count() === undefined) return;
  log("warn", msg, fields);
}
