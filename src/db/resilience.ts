/**
 * How the Worker talks to Postgres when Postgres (or the way to it) is failing: every SQL-over-HTTP
 * call is bounded in time, reads are retried a little, writes never are, and a transport failure
 * becomes one recognisable error (DatabaseUnavailableError) that the API answers with 503
 * `service_unavailable` + `Retry-After` (src/middleware/error-handler.ts). README "Failure modes".
 *
 * Postgres' own errors (a constraint, a syntax error, a missing database) are answers, not
 * outages: they pass through unchanged, as the driver's NeonDbError.
 */

/** One attempt of a read may take this long (answer included) before it is abandoned. */
export const READ_ATTEMPT_TIMEOUT_MS = 1_500;
/** A read, all its attempts and pauses together, ends within this: then 503. */
export const READ_DEADLINE_MS = 3_000;
/** A read is tried at most this often (so retried at most twice). */
export const READ_MAX_ATTEMPTS = 3;
/** Pause before retry n (1-based): 25 ms + a random share of RETRY_BACKOFF_BASE_MS · 2^(n-1) (full jitter). */
export const RETRY_BACKOFF_BASE_MS = 50;
/** A retry is not started with less time left than this. */
const MIN_ATTEMPT_MS = 100;
/**
 * A write (anything that is not a plain read, and every batch) gets one attempt of at most this long.
 * It is never retried here: once the request has left, only the database knows whether it committed.
 * Clients retry, with their Idempotency-Key (POST /api/v1/orders), which makes that safe.
 */
export const WRITE_TIMEOUT_MS = 5_000;
/** `Retry-After` of a 503 caused by the database. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

export type UnavailableKind = "timeout" | "network" | "status";

/** The database did not answer usably: timed out, unreachable, or the endpoint answered 408/429/5xx. */
export class DatabaseUnavailableError extends Error {
  constructor(
    message: string,
    readonly kind: UnavailableKind,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "DatabaseUnavailableError";
  }
}

/**
 * SQLSTATEs that mean "not now" rather than "wrong": connection exceptions (class 08), the server
 * shutting down or starting (57P01..57P03), too many connections (53300), and a statement
 * cancelled by statement_timeout (57014: the database is too slow right now).
 */
const TRANSIENT_SQLSTATE = /^(08...|57P0[123]|53300|57014)$/;

/**
 * Whether `err` (a drizzle error, the driver's NeonDbError, or anything wrapping one) means the
 * database is unavailable. Follows `cause` (drizzle) and `sourceError` (the Neon driver's wrapper
 * of a failed fetch).
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  let current: unknown = err;
  for (let depth = 0; depth < 6 && current instanceof Error; depth++) {
    if (current instanceof DatabaseUnavailableError) return true;
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && TRANSIENT_SQLSTATE.test(code)) return true;
    const next: unknown = (current as { sourceError?: unknown }).sourceError ?? current.cause;
    current = next;
  }
  return false;
}

type Fetch = (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;

/**
 * One SQL-over-HTTP call through `doFetch` (one call per attempt, so each attempt counts as a round
 * trip), with the bounds above. Throws DatabaseUnavailableError when no usable answer came; any
 * other answer (200, or 400 with Postgres' error) is returned for the driver to read, its body
 * already received within the bound.
 */
export async function boundedSqlFetch(doFetch: Fetch, input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const read = isPlainRead(init?.body);
  const deadline = Date.now() + (read ? READ_DEADLINE_MS : WRITE_TIMEOUT_MS);
  const maxAttempts = read ? READ_MAX_ATTEMPTS : 1;
  for (let attempt = 1; ; attempt++) {
    const timeoutMs = Math.max(1, Math.min(read ? READ_ATTEMPT_TIMEOUT_MS : WRITE_TIMEOUT_MS, deadline - Date.now()));
    let failure: DatabaseUnavailableError;
    try {
      return await attemptOnce(doFetch, input, init, timeoutMs);
    } catch (err) {
      if (!(err instanceof DatabaseUnavailableError)) throw err;
      failure = err;
    }
    const pause = 25 + Math.random() * RETRY_BACKOFF_BASE_MS * 2 ** (attempt - 1);
    if (attempt >= maxAttempts || deadline - Date.now() - pause < MIN_ATTEMPT_MS) throw failure;
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
}

async function attemptOnce(doFetch: Fetch, input: RequestInfo | URL, init: RequestInit | undefined, timeoutMs: number): Promise<Response> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const callerSignal = init?.signal ?? undefined;
  const signal = callerSignal ? AbortSignal.any([callerSignal, timeout]) : timeout;
  let res: Response;
  let body: ArrayBuffer;
  try {
    res = await doFetch(input, { ...init, signal });
    // The whole answer within the same bound: a server that sends headers and then stalls is a timeout too.
    body = await res.arrayBuffer();
  } catch (err) {
    if (callerSignal?.aborted) throw err;
    if (timeout.aborted)
      throw new DatabaseUnavailableError(`SQL-over-HTTP: no answer within ${timeoutMs} ms`, "timeout", undefined, { cause: err });
    const reason = err instanceof Error ? err.message : String(err);
    throw new DatabaseUnavailableError(`SQL-over-HTTP endpoint unreachable: ${reason}`, "network", undefined, { cause: err });
  }
  if (res.status === 408 || res.status === 429 || res.status >= 500) {
    const text = new TextDecoder().decode(body).slice(0, 300);
    throw new DatabaseUnavailableError(`SQL-over-HTTP endpoint answered HTTP ${res.status}: ${text}`, "status", res.status);
  }
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
}

/**
 * Words that make a statement more than a read (or that we cannot vouch for). Conservative on
 * purpose: a read taken for a write only loses its retries; the reverse could run a write twice.
 */
const NOT_A_READ = /\b(insert|update|delete|merge|truncate|copy|call|do|lock|into|nextval|setval|pg_advisory\w*|pg_notify|set_config)\b/;

/**
 * Whether a driver request body is ONE statement that only reads: `{"query": "select …" | "with …"}`
 * without any data-modifying or locking word. Batches (`{"queries": […]}`) are transactions with
 * writes here (order placement, cancellation) and never count as reads.
 */
export function isPlainRead(body: unknown): boolean {
  if (typeof body !== "string" || !body.startsWith('{"query":')) return false;
  let query: unknown;
  try {
    query = (JSON.parse(body) as { query?: unknown }).query;
  } catch {
    return false;
  }
  if (typeof query !== "string") return false;
  const text = query
    .replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, " ")
    .trimStart()
    .toLowerCase();
  return /^(select|with)\b/.test(text) && !NOT_A_READ.test(text);
}
