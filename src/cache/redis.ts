import { Redis } from "@upstash/redis/cloudflare";
import { settingsOf, type SettingsSource } from "../config";
import { recordRedisRoundTrip } from "../observability/request-stats";

export type RedisOptions = {
  /** Retries after a failed request (default 1, 50 ms apart). */
  retries?: number;
  /** Aborts each request after this long (default: no limit). */
  timeoutMs?: number;
  /** Parse values as JSON (the client's default). The catalog cache stores its own format and turns it off. */
  automaticDeserialization?: boolean;
};

/**
 * Upstash Redis over REST: the Worker's only way to Redis. Locally UPSTASH_REDIS_REST_URL points at
 * scripts/upstash-rest-server.ts in front of a real Redis.
 */
export function createRedis(env: Pick<Env, "UPSTASH_REDIS_REST_URL" | "UPSTASH_REDIS_REST_TOKEN">, options: RedisOptions = {}): Redis {
  const { timeoutMs } = options;
  return new Redis({
    url: env.UPSTASH_REDIS_REST_URL,
    token: env.UPSTASH_REDIS_REST_TOKEN,
    enableAutoPipelining: true,
    // One quick retry by default: a cache that is down must not hold a request through the client's default 5 backoffs.
    retry: { retries: options.retries ?? 1, backoff: () => 50 },
    // A function, called once per REST request (retries reuse its answer), so every request gets its own
    // timer (a plain signal would be spent after the first), and is counted on the request's stats:
    // Server-Timing's redis round trips.
    signal: () => {
      recordRedisRoundTrip();
      return timeoutMs === undefined ? new AbortController().signal : AbortSignal.timeout(timeoutMs);
    },
    ...(options.automaticDeserialization === undefined ? {} : { automaticDeserialization: options.automaticDeserialization }),
  });
}

/** Whether the deployment's global cache store is Redis; otherwise KV alone (the embedded default). See Settings.cacheBackend. */
export function usesRedis(env: SettingsSource): boolean {
  return settingsOf(env).cacheBackend === "upstash";
}
