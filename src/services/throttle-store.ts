import { Ratelimit, type Duration } from "@upstash/ratelimit";
import type { Redis } from "@upstash/redis/cloudflare";
import { createRedis } from "../cache/redis";
import { ApiError } from "../errors";
import { withTimeout } from "../lib/with-timeout";
import { LogThrottle, log, warnThrottled } from "../observability/logging";
import { recordDegraded } from "../observability/request-stats";
import { OUTAGE_LOG_INTERVAL_MS, THROTTLE_TIMEOUT_MS, THROTTLE_UNAVAILABLE_RETRY_AFTER_SECONDS } from "./throttle-policy";

/**
 * Where the login and registration throttles keep their counters: a Redis of their own (its own Upstash
 * database, THROTTLE_REDIS_REST_URL), so that traffic loading the catalog cache's Redis cannot slow or
 * evict them, and the Workers Rate Limiting bindings for when that Redis fails.
 *
 * One store serves one request. Each call to Redis is bounded by THROTTLE_TIMEOUT_MS; the first that
 * fails (timeout, 5xx, unreachable, or no URL configured) makes the store unavailable for the rest of
 * the request, so a request waits for a failing Redis at most once, and the caller decides the rest
 * on the binding (`countOnBinding`). Every such request notes "throttle-redis" in its `degraded`
 * stats; the outage is logged when it starts, then at most once per isolate per
 * OUTAGE_LOG_INTERVAL_MS with the number of failed calls in between, and when Redis answers again.
 */

/** The vars the store reads. THROTTLE_NAMESPACE is optional (tests give each case its own). */
export type ThrottleEnv = Pick<Env, "THROTTLE_REDIS_REST_URL" | "THROTTLE_REDIS_REST_TOKEN"> & { THROTTLE_NAMESPACE?: string };

/** Every throttle key starts with this unless THROTTLE_NAMESPACE says otherwise. */
export const DEFAULT_THROTTLE_NAMESPACE = "tenpo:ratelimit:";

/** What a Redis call gave: its value, or nothing because the store is unavailable. */
export type StoreResult<T> = { value: T } | null;

/** This isolate's view of the throttles' Redis: failing since the last answer, and the log of its failed calls. */
const outage = { failing: false, failures: new LogThrottle(OUTAGE_LOG_INTERVAL_MS) };

export class ThrottleStore {
  /** Null when no URL is configured: the store is unavailable from the start. */
  private readonly redis: Redis | null;
  private unavailable = false;
  readonly namespace: string;

  constructor(
    env: ThrottleEnv,
    private readonly timeoutMs = THROTTLE_TIMEOUT_MS,
  ) {
    this.namespace = env.THROTTLE_NAMESPACE || DEFAULT_THROTTLE_NAMESPACE;
    this.redis = env.THROTTLE_REDIS_REST_URL
      ? createRedis(
          { UPSTASH_REDIS_REST_URL: env.THROTTLE_REDIS_REST_URL, UPSTASH_REDIS_REST_TOKEN: env.THROTTLE_REDIS_REST_TOKEN },
          { timeoutMs },
        )
      : null;
  }

  /** A sliding-window counter of `tokens` per `window` under `<namespace><name>`. */
  slidingWindow(name: string, tokens: number, window: Duration): Ratelimit {
    return new Ratelimit({
      redis: this.redis ?? unconfigured,
      limiter: Ratelimit.slidingWindow(tokens, window),
      prefix: this.key(name),
      // Our own timeout covers every call and logs; the library's only covers limit() and stays silent.
      timeout: 0,
      // An in-memory block list would survive across requests of this isolate and disagree with Redis.
      ephemeralCache: false,
      analytics: false,
    });
  }

  /** A key of this store's namespace. */
  key(name: string): string {
    return `${this.namespace}${name}`;
  }

  /** The Redis client, for plain commands inside `call`. */
  get client(): Redis {
    return this.redis ?? unconfigured;
  }

  /**
   * Runs one step against Redis within the timeout: its value, or null when the store is (or has
   * just become) unavailable for this request.
   */
  async call<T>(operation: string, work: () => Promise<T>): Promise<StoreResult<T>> {
    if (this.unavailable) return null;
    if (!this.redis) return this.fail(operation, new Error("THROTTLE_REDIS_REST_URL is not set"));
    try {
      const value = await withTimeout(work(), this.timeoutMs, `throttle store ${operation}`);
      if (outage.failing) recovered();
      return { value };
    } catch (err) {
      return this.fail(operation, err);
    }
  }

  private fail(operation: string, err: unknown): null {
    this.unavailable = true;
    recordDegraded("throttle-redis");
    // The first failed call of an outage is logged at once (recovered() resets the throttle), later ones at most once per interval.
    const failures = outage.failures.count();
    if (failures !== undefined) {
      log("warn", "throttle store unavailable; counting attempts on the rate limiting binding", {
        operation,
        failures,
        error: err instanceof Error ? err.message : String(err),
      });
    }
    outage.failing = true;
    return null;
  }
}

/** The first answer after an outage ends it: logged with the failed calls not logged yet. */
function recovered(): void {
  log("info", "throttle store answers again", { failures: outage.failures.reset() });
  outage.failing = false;
}

/** Stands in for a Redis that is not configured; `call` never lets it be reached. */
const unconfigured = new Proxy({} as Redis, {
  get: () => {
    throw new Error("THROTTLE_REDIS_REST_URL is not set");
  },
});

/**
 * Counts one attempt under `key` on a Workers Rate Limiting binding: true within its limit, false
 * past it. A binding that is missing or fails throws 503 `service_unavailable`: with neither store
 * answering, the throttle fails closed rather than letting every attempt through.
 */
export async function countOnBinding(binding: RateLimit | undefined, key: string): Promise<boolean> {
  try {
    if (!binding) throw new Error("the rate limiting binding is not configured");
    return (await binding.limit({ key })).success;
  } catch (err) {
    recordDegraded("throttle-binding");
    warnThrottled("throttle-binding", "throttle binding unavailable too; refusing the attempt with 503", {
      error: err instanceof Error ? err.message : String(err),
    });
    throw ApiError.serviceUnavailable(
      "Sign-in and registration are unavailable right now; try again shortly",
      THROTTLE_UNAVAILABLE_RETRY_AFTER_SECONDS,
    );
  }
}

/** 429 `rate_limited` with `Retry-After`. */
export function rateLimited(message: string, retryAfterSeconds: number): ApiError {
  return new ApiError(429, "rate_limited", message, undefined, { "Retry-After": String(retryAfterSeconds) });
}

/** Whole seconds from now until `resetAt` (ms since the epoch), at least 1: a limiter's `reset` as a Retry-After. */
export function secondsUntil(resetAt: number): number {
  return Math.max(1, Math.ceil((resetAt - Date.now()) / 1000));
}
