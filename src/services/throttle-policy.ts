import type { Duration } from "@upstash/ratelimit";

/**
 * The login and registration throttles' numbers, in one place (login-throttle.ts and
 * register-throttle.ts use them; README "Accounts" explains them).
 *
 * Limits on what a client may do are bounded from two sides: at least 5 and at most 20 failed logins
 * per account per 15 minutes before 429, a per-client limit that allows at least 100 failures per 15
 * minutes, and 60 successful logins and 60 registrations a minute from one client that are never
 * refused. Each number below says where it sits between those bounds and why.
 *
 * The counters are @upstash/ratelimit's sliding windows: the current fixed bucket plus the previous
 * one weighted by how much of it still overlaps the window. That estimate is rounded down, so just
 * after a bucket boundary it can let one more attempt through than its limit, and failures timed at a
 * boundary can reach twice a limit within one 15-minute span. The login limits leave room for that.
 * A 429's `Retry-After` is when the current bucket ends; the window can still be full then (the
 * previous bucket still weighs in), and the next answer then gives a new `Retry-After`.
 */

/** Every login counter looks back this far: docs/api.md's 15 minutes. */
export const LOGIN_WINDOW_MINUTES = 15;
export const LOGIN_WINDOW: Duration = `${LOGIN_WINDOW_MINUTES} m`;

/**
 * Hard lock: failures of one client on one account (account, client). Reached, that client is refused
 * on that account with 429, even with the right password, until the window has passed, so a guess past
 * the limit never tells right from wrong. 10: a person who mistypes is far below it, and docs/api.md's
 * 5..20 holds even for failures timed at a bucket boundary (twice 10).
 */
export const PAIR_FAILURES_PER_WINDOW = 10;

/**
 * Softer step for the account as a whole (failures from every client). Reached, clients unfamiliar to the
 * account are refused (429 before any hash), while a familiar client keeps its own pair budget: a third
 * party guessing from many addresses cannot lock the owner out. 15, not 20: the most an attacker rotating
 * addresses gets before the account closes to strangers, kept under docs/api.md's 20 with room for the
 * rounding above, and still 5 more than one client's own lock, so one client alone does not close the
 * account to the owner's new devices.
 */
export const ACCOUNT_FAILURES_PER_WINDOW = 15;

/**
 * Per client across accounts (credential spraying). Reached, the client is refused for every account it
 * is not familiar with; colleagues behind one NAT who have logged in from there before still get in. 150:
 * docs/api.md lets a client fail at least 100 times, and the previous bucket's weight can hold a client
 * below its limit for a while after a burst; 150 keeps 100 available even then.
 */
export const CLIENT_FAILURES_PER_WINDOW = 150;

/**
 * A client is familiar to an account for this long after it last logged in to it successfully (a Redis
 * key per (account, client) with this TTL). 30 days: a person's devices and office address stay familiar
 * across a month of not logging in, an address that changed hands stops being trusted after that.
 */
export const FAMILIAR_TTL_SECONDS = 30 * 24 * 3600;

/**
 * A familiar client's key is rewritten (its TTL renewed) on a successful login only when it was written
 * longer ago than this. One day: the 30 days lose at most one, and the logins of a familiar client
 * (200 in a few seconds in the load test) write nothing, instead of one write each.
 */
export const FAMILIAR_REFRESH_MS = 24 * 3600 * 1000;

/**
 * Registrations from one client in a minute, counted before the password is hashed (each costs a
 * PBKDF2 derivation). 120: twice the 60 a minute docs/api.md never refuses, so a client at that rate
 * never reaches it, however its minute falls across buckets; a script gets no more than two a second.
 */
export const REGISTER_ATTEMPTS_PER_MINUTE = 120;

/**
 * Registrations from one client in an hour. 60 a minute kept up for an hour is 3,600; 4,000 leaves
 * about 10 % for uneven pacing, and holds account creation from one client to that rate rather than
 * the 7,200 an hour the minute limit alone would allow.
 */
export const REGISTER_ATTEMPTS_PER_HOUR = 4_000;

/**
 * 409 `email_taken` answers to one client per 15 minutes. Reached, that client's registrations are
 * refused with 429 until the window has passed (before any hash), and a burst past it gets 429 instead of
 * 409: each 409 tells that an address has an account. People who forgot they registered see a few; 20
 * is far above that even behind a shared address, and holds enumeration to 80 addresses an hour.
 */
export const REGISTER_TAKEN_PER_WINDOW = 20;
export const REGISTER_TAKEN_WINDOW_MINUTES = 15;
export const REGISTER_TAKEN_WINDOW: Duration = `${REGISTER_TAKEN_WINDOW_MINUTES} m`;

/** One call to the throttle's Redis: past this it counts as failed and the fallback below decides. */
export const THROTTLE_TIMEOUT_MS = 1_000;

/**
 * A throttle Redis that fails is logged when it starts failing, then at most once per isolate per this
 * interval while it keeps failing (with the number of failed calls since the last line).
 */
export const OUTAGE_LOG_INTERVAL_MS = 60_000;

/**
 * When the throttle's Redis fails (timeout, 5xx, unreachable, not configured), each login attempt is
 * counted before the password is checked on the Workers Rate Limiting binding LOGIN_FALLBACK_LIMITER,
 * per account, and refused with 429 past this many a minute. The binding keeps its limit itself
 * (wrangler.toml `[[ratelimits]]`, which must say the same; test/faults/throttle.test.ts counts both
 * bindings). It counts in fixed
 * windows of 10 or 60 s per Cloudflare location and has no way to read a count without adding to it,
 * so it cannot count failures alone: every attempt counts, right passwords too. 5 a minute keeps the
 * docs/api.md's minimum (five wrong passwords in a row each get their 401) and holds guessing to 75 per 15
 * minutes per location instead of unlimited; no binding setting holds 20 per 15 minutes without
 * refusing the fifth attempt.
 */
export const LOGIN_FALLBACK_ATTEMPTS_PER_MINUTE = 5;

/**
 * Likewise for registrations on REGISTER_FALLBACK_LIMITER, per client: the minute limit above. The hourly
 * volume and the 409 cap need the sliding windows and are not kept while Redis fails.
 */
export const REGISTER_FALLBACK_ATTEMPTS_PER_MINUTE = REGISTER_ATTEMPTS_PER_MINUTE;

/** `Retry-After` of a 429 from the binding: its window. */
export const FALLBACK_RETRY_AFTER_SECONDS = 60;

/**
 * When the binding is missing or fails too, logins and registrations fail closed: 503 with this
 * `Retry-After`. Two stores failing at once is an outage, not a blip: 30 s keeps clients from
 * retrying every second meanwhile.
 */
export const THROTTLE_UNAVAILABLE_RETRY_AFTER_SECONDS = 30;
