/**
 * The password gate's numbers, in one place (password-gate.ts uses them; README "Accounts" explains them).
 *
 * A PBKDF2 hash (100,000 iterations) costs ~11 ms of the isolate's thread on an idle machine and ~37 ms
 * on a busy 2-core one. workerd computes it synchronously: `crypto.subtle.deriveBits` returns only once
 * the whole derivation is done, its promise already settled, and a 0 ms timer set just before the call
 * fires after it (test/services/password-gate.test.ts pins this). So hashes never overlap, and while
 * one runs nothing else of the isolate does: not a catalog read, not a timer. The gate lets ONE hash
 * run at a time and starts the next one only from a later macrotask, so that whatever the event loop
 * queued meanwhile (other requests' I/O answers) is served between two hashes, instead of waiting for
 * all of them. A request with k round trips to make then waits for about k hashes, not for the queue.
 */

/** Hashes at once per isolate. 1 because deriveBits is synchronous: more would only run back to back in one turn of the loop. */
export const HASH_CONCURRENCY = 1;

/**
 * After each hash the gate stays closed until a timer of this many ms has fired; only then may the
 * next hash start. Without it the gate would change nothing: a synchronous hash runs inside the
 * event that delivered its caller's database answer, and the next caller, delivered by the very next
 * event, would find the gate free again. With it, the answers and requests that arrived during the
 * hash are handled first (the next callers among them just join the queue). Not 0: measured in
 * workerd, with 0 ms timers other requests' I/O answers got through only every second or third hash
 * (a due timer can fire before the loop polls for I/O); with 1 ms, after each. 1 ms costs each login 1 ms, and the isolate at most
 * 1 ms of hashing per hash (~3 % of a 37 ms hash), nothing when other requests' work fills the pause.
 */
export const HASH_PAUSE_MS = 1;

/**
 * Password checks that may wait for their turn; one more is refused with 503 at once. Sized for a
 * burst of logins rather than for steady traffic: the FastAPI original's Locust user (load/scenario.ts) starts 200 users in 4 s, all
 * logging in, and on a saturated 2-core machine (~37 ms a hash, arrivals at 50/s) about 100 of them
 * wait at once. 256 hashes are ~3 s of work on an idle machine and ~9.5 s on a saturated one: a client
 * still gets its token, and past that a 503 with Retry-After serves it better than a longer line.
 * Deployed, load spreads over many isolates and this is rarely reached.
 */
export const MAX_WAITING_HASHES = 256;

/** `Retry-After` of that 503: a full queue has drained in ~9.5 s even on a saturated isolate. */
export const HASH_BUSY_RETRY_AFTER_SECONDS = 10;

/**
 * When a turn is free, the first in line must take it within this, or it is dropped from the line and
 * the next one goes: that request went away (its client disconnected, and workerd never runs it
 * again), and must not block every later login of the isolate. Taking a free turn needs no hash to
 * finish first, only the event loop to get to the waiter, so 250 ms is generous; a dropped waiter
 * that does come back still runs (one extra hash at once, rather than a login that never ends).
 */
export const TURN_CLAIM_MS = 250;

/** A turn taken and not given back within this (a hash that never settled) is reclaimed too; a hash takes ~37 ms. */
export const TURN_HOLD_MS = 2_000;

/**
 * Besides being woken when a hash ends, each waiting request looks at the gate this often, on a timer
 * of its own: that is how turns and first places lost as above are found when nothing else happens,
 * and it gives a request that waits for others something of its own pending.
 */
export const WAITER_CHECK_MS = 100;
