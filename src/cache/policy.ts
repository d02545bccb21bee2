/**
 * The catalog cache's numbers, in one place (README "Catalog cache" explains them).
 *
 * Every cached entry carries the time its data was read from Postgres (`storedAt`, taken before the
 * query is sent). Whatever layer holds it, an entry is:
 *   - fresh   while younger than FRESH_MS: served as HIT;
 *   - stale   until MAX_AGE_MS: served as STALE while one background refresh per key and isolate
 *             looks for a fresh copy (lower layers, then Postgres);
 *   - expired from MAX_AGE_MS on: never served; the read waits for a fresh copy (MISS).
 * So no response is built from data read more than MAX_AGE_MS ago: the contract's 5 s stock bound.
 *
 * The one exception is stale-if-error: while Postgres does not answer (timeout, unreachable, 5xx),
 * an expired entry younger than STALE_IF_ERROR_MS is served as STALE instead of failing the read
 * with 503. Entries are therefore kept (not served) until STALE_IF_ERROR_MS.
 */

/** Served without revalidation while younger than this. */
export const FRESH_MS = 2_000;
/** Never served once this old: the 5 s bound on stock in catalog reads. */
export const MAX_AGE_MS = 5_000;

/**
 * Stale-if-error: while the database is unavailable, catalog reads are still answered (X-Cache: STALE)
 * from an entry whose data was read less than this long ago; older than that, or with no entry, 503.
 * An explicit exception to MAX_AGE_MS, only while Postgres fails: no admin write can land meanwhile
 * (writes need the database), and orders, the authority on stock, fail with 503 anyway. 60 s keeps
 * KV at its minimum TTL and Redis' long tail of one-off keys at 60 s.
 */
export const STALE_IF_ERROR_MS = 60_000;

/**
 * How long an isolate trusts the catalog version it last read: the cross-isolate bound after an admin
 * write. When the store does not answer, a version confirmed less than MAX_AGE_MS ago is used instead
 * (no entry outlives that anyway), and the store is asked again at most once per VERSION_TTL_MS.
 */
export const VERSION_TTL_MS = 1_000;

/** L0, per isolate and cache scope: at most this many entries and about this many bytes of bodies. */
export const MEMORY_MAX_ENTRIES = 500;
export const MEMORY_MAX_BYTES = 8 * 1024 * 1024;

/** One call to KV, Redis or the Cache API: past this the layer counts as failed and the read falls through. */
export const CALL_TIMEOUT_MS = 300;
/** A version bump, on the (rare) admin write path: worth waiting a little longer for than a read. */
export const BUMP_TIMEOUT_MS = 2_000;
/**
 * After a failure a layer is skipped (no waiting at all) for this long, then tried again. Also: after
 * Postgres failed a catalog load, reads with a stale-if-error entry get it at once for this long
 * (one background refresh per key probes Postgres) instead of each waiting for the database's timeout.
 */
export const RETRY_AFTER_MS = 5_000;
/**
 * A call that is noticed to have timed out this much later than it was due was timed out by a busy
 * isolate, not by a slow layer: the timer could not fire while the thread ran other work (PBKDF2, a
 * burst of requests), and the layer's answer may well have been waiting in the event loop behind it.
 * Such a timeout still fails the call (the read falls through) but does not make the layer skipped,
 * as long as the layer answered within the last RETRY_AFTER_MS: a layer that answers nothing is
 * skipped however busy the isolate is.
 */
export const EVENT_LOOP_LAG_MS = 100;
/** A failing layer logs once per isolate per this interval, with the number of failures in between. */
export const FAILURE_LOG_INTERVAL_MS = 60_000;
/** A request waiting on another request's load gives up and loads itself after this (a guard against hangs). */
export const FOLLOWER_WAIT_MS = 5_000;

/** TTLs of the global store: past STALE_IF_ERROR_MS an entry is useless, so they only bound storage. KV's minimum is 60 s. */
export const KV_TTL_SECONDS = Math.max(60, Math.ceil(STALE_IF_ERROR_MS / 1000));
export const REDIS_ENTRY_TTL_MS = STALE_IF_ERROR_MS;
/** The Redis version key outlives any entry by far; a version that expires restarts at 1, which is safe (see versions.ts). */
export const REDIS_VERSION_TTL_SECONDS = 7 * 24 * 3600;

/** Keys longer than this are hashed (KV allows 512 bytes). */
export const MAX_PLAIN_KEY_LENGTH = 400;
