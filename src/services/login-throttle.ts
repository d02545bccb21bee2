import { Ratelimit } from "@upstash/ratelimit";
import type { Redis } from "@upstash/redis/cloudflare";
import { createRedis } from "../cache/redis";
import { log } from "../log";
import { recordDegraded } from "../middleware/request-stats";

/**
 * Login throttling (contract: 5..20 failed attempts per account per 15 minutes before 429; a client
 * limit allowing at least 100; successful logins never throttled). Only failures count: an attempt is
 * checked against what is left before the password is verified, and a failure is recorded after.
 *
 * A throttled account is refused even with the right password until its window has passed: otherwise
 * the 429 would only hide the answer "wrong", and an attacker could keep guessing at full speed and
 * recognise the right password by its 200.
 *
 * Redis is a safety net here, not a dependency of logging in: when it does not answer in time the
 * throttle lets the attempt through rather than locking everyone out. That is logged at most once per
 * isolate per OUTAGE_LOG_INTERVAL_MS (with the number of failed calls since the last line) and noted
 * in each request's `degraded` metrics blob as "redis".
 *
 * Known limit of check-then-record: attempts that arrive at the same moment all see the same count, so
 * one burst can get a few more guesses than the limit before the failures land. The count still
 * reaches the limit, and every later attempt is refused for the rest of the window.
 */

export const ACCOUNT_FAILURES_PER_WINDOW = 10;
export const CLIENT_FAILURES_PER_WINDOW = 150;
const WINDOW = "15 m";
export const THROTTLE_TIMEOUT_MS = 1000;
export const THROTTLE_KEY_PREFIX = "tenpo:ratelimit:login:";
/** A Redis outage is logged at most once per isolate per this interval, with the failures in between. */
export const OUTAGE_LOG_INTERVAL_MS = 60_000;
const outage = { loggedAt: Number.NEGATIVE_INFINITY, failures: 0 };

/** Who is trying: the account (lower-cased email) and the client (CF-Connecting-IP, see `clientKeyFor`). */
export type LoginAttempt = { email: string; client: string };

export class LoginThrottle {
  private readonly byAccount: Ratelimit;
  private readonly byClient: Ratelimit;

  constructor(
    redis: Redis,
    private readonly timeoutMs = THROTTLE_TIMEOUT_MS,
  ) {
    const options = {
      redis,
      // Our own timeout covers every call and logs; the library's only covers limit() and stays silent.
      timeout: 0,
      // An in-memory block list would survive across requests of this isolate and disagree with Redis.
      ephemeralCache: false as const,
      analytics: false,
    };
    this.byAccount = new Ratelimit({
      ...options,
      limiter: Ratelimit.slidingWindow(ACCOUNT_FAILURES_PER_WINDOW, WINDOW),
      prefix: `${THROTTLE_KEY_PREFIX}account`,
    });
    this.byClient = new Ratelimit({
      ...options,
      limiter: Ratelimit.slidingWindow(CLIENT_FAILURES_PER_WINDOW, WINDOW),
      prefix: `${THROTTLE_KEY_PREFIX}client`,
    });
  }

  /** Seconds until this attempt may be made, or null when it may be made now. */
  async retryAfterSeconds(attempt: LoginAttempt): Promise<number | null> {
    const account = await accountKeyFor(attempt.email);
    const left = await this.failOpen(
      "check",
      Promise.all([this.byAccount.getRemaining(account), this.byClient.getRemaining(attempt.client)]),
    );
    const now = Date.now();
    const waits = (left ?? []).filter((l) => l.remaining <= 0).map((l) => Math.max(1, Math.ceil((l.reset - now) / 1000)));
    return waits.length > 0 ? Math.max(...waits) : null;
  }

  /** Counts a failed attempt against the account and the client. */
  async recordFailure(attempt: LoginAttempt): Promise<void> {
    const account = await accountKeyFor(attempt.email);
    await this.failOpen("record", Promise.all([this.byAccount.limit(account), this.byClient.limit(attempt.client)]));
  }

  private async failOpen<T>(operation: string, work: Promise<T>): Promise<T | null> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    try {
      return await Promise.race([work, timeout]);
    } catch (err) {
      recordDegraded("redis");
      outage.failures += 1;
      const now = Date.now();
      if (now - outage.loggedAt >= OUTAGE_LOG_INTERVAL_MS) {
        log("warn", "login throttle unavailable; letting the login proceed", {
          operation,
          failures: outage.failures,
          error: err instanceof Error ? err.message : String(err),
        });
        outage.loggedAt = now;
        outage.failures = 0;
      }
      return null;
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }
}

export function createLoginThrottle(env: Pick<Env, "UPSTASH_REDIS_REST_URL" | "UPSTASH_REDIS_REST_TOKEN">): LoginThrottle {
  return new LoginThrottle(createRedis(env));
}

/**
 * The client a failed attempt is counted against. On Cloudflare, CF-Connecting-IP is set by the edge.
 * IPv6 clients are counted by their /64, the block one subscriber usually holds, so that rotating
 * through addresses of one's own block does not reset the count. Anything else is "unknown".
 */
export function clientKeyFor(connectingIp: string | undefined): string {
  const ip = connectingIp?.trim().toLowerCase() ?? "";
  if (/^(?:[0-9]{1,3}\.){3}[0-9]{1,3}$/.test(ip)) return ip;
  // IPv4-mapped IPv6 (::ffff:192.0.2.1): one IPv4 client, kept whole.
  if (/^::ffff:(?:[0-9]{1,3}\.){3}[0-9]{1,3}$/.test(ip)) return ip;
  return ipv6Slash64(ip) ?? "unknown";
}

/** The first four groups of an IPv6 address ("2001:db8:0:1::/64"), or null when it is not one. */
function ipv6Slash64(ip: string): string | null {
  if (ip.length > 39 || !/^[0-9a-f:]+$/.test(ip)) return null;
  const halves = ip.split("::");
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves[1] ? halves[1].split(":") : [];
  const zeros = 8 - head.length - tail.length;
  if (halves.length === 1 ? zeros !== 0 : zeros < 1) return null;
  const groups = [...head, ...Array<string>(halves.length === 2 ? zeros : 0).fill("0"), ...tail];
  if (!groups.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return null;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, "")).join(":")}::/64`;
}

/** Accounts are keyed by a digest of the lower-cased email: no addresses in Redis, bounded key length. */
async function accountKeyFor(email: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(email.trim().toLowerCase()));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}
