/**
 * The catalog cache's numbers, in one place (README "Catalog cache" explains them).
 *
 * Every cached entry carries the time its data was read from Postgres (`storedAt`, taken before the
 * query is sent). In the Cache API and the global store (and in L0 for reads that declare nothing
 * better), an entry is:
 *   - fresh   while younger than FRESH_MS: served as HIT;
 *   - stale   until MAX_AGE_MS: served as STALE while one background refresh per key and isolate
 *             looks for a fresh copy (lower layers, then Postgres);
 *   - expired from MAX_AGE_MS on: never served; the read waits for a fresh copy (MISS).
 *
 * In L0 (this isolate's memory) product lists and details are kept current by the stock view
 * (stock-view.ts) instead of being reloaded: their data age is measured from the later of storedAt
 * and the time the last stock refresh covering them was SENT, with the same FRESH_MS / MAX_AGE_MS
 * thresholds. Categories show no stock: in L0 they are current until the catalog version changes.
 * Either way an L0 entry lives at most MEMORY_MAX_LIFETIME_MS after its load.
 *
 * So no response is built from stock read more than MAX_AGE_MS ago: docs/api.md's 5 s stock bound.
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

/**
 * The longest an L0 entry is served after its load (storedAt), however current the stock view keeps
 * it. The view re-reads stock and updated_at only; anything else changed behind the API's back (a
 * price or name fixed in SQL, a product inserted or undeleted there, so a list or a category count
 * that should change) shows within this. Admin writes never wait for it: they bump the version.
 * 5 minutes: such changes are manual and rare, nobody waits on them to the second, and a hot key
 * then costs one reload per isolate per 5 minutes instead of one per 5 s (60 times fewer loads).
 */
export const MEMORY_MAX_LIFETIME_MS = 5 * 60_000;

/**
 * The stock view refreshes at most this often per isolate and cache scope, with one statement for
 * every product read recently, one statement in flight at a time. 1 s leaves FRESH_MS − 1 s for the
 * round trip before a read of a hot entry would see it STALE, and costs one round trip per isolate
 * per second whatever the number of hot keys.
 */
export const STOCK_REFRESH_MS = 1_000;

/**
 * A product is refreshed while an L0 entry showing it was served within this ("refresh only what is
 * read"). Equal to MAX_AGE_MS: an entry read again within it has been kept current all along, an
 * entry read less often would be past MAX_AGE_MS anyway when read again, so refreshing it is waste.
 */
export const STOCK_READ_WINDOW_MS = MAX_AGE_MS;

/**
 * At most this many product ids in one stock statement (the most recently read entries first; the
 * others age by the rules above). 500 entries of 20 items is 10,000; 5,000 ids is a 30 KB array
 * parameter and a few ms of primary-key lookups, far from any request-size limit.
 */
export const STOCK_MAX_IDS = 5_000;

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

/**
 * Which reads the global store (KV or Upstash Redis: one for every location, and an Upstash database
 * may serve more than this cache) holds: those many clients share, whose keys are few. That is
 * product details, the categories, and list pages with no filter that start within the first
 * SHARED_LIST_ROWS rows (reach.ts). Every other list read is long-tail: a search, a category, a price
 * range (their values never run out) or a deeper page. Long-tail reads live in L0 and the Cache API
 * only, never looked up or written in the global store, so a stream of one-off reads (a crawler, or
 * someone busting the cache with ever new searches) costs Postgres its queries but not one KV or Redis
 * command, and cannot push shared entries out there. They give up little: a global entry is only
 * served until MAX_AGE_MS after its load, and a repeat in the same location finds the Cache API's copy.
 * 200 rows: ten pages of the default 20, further than shoppers page (the FastAPI original's Locust user, load/scenario.ts, reads pages 1–10).
 */
export const SHARED_LIST_ROWS = 200;

/** Keys longer than this are hashed (KV allows 512 bytes). */
export const MAX_PLAIN_KEY_LENGTH = 400;
