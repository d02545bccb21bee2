import { AsyncLocalStorage } from "node:async_hooks";

export type CacheStatus = "HIT" | "MISS" | "STALE" | "BYPASS";

/**
 * What one request cost: database round trips and time, cache lookups and the cache outcome.
 * Code deep in the stack (the database client's fetch, the cache layers) adds to the current
 * request's record through AsyncLocalStorage instead of threading it through every call.
 */
export type RequestStats = {
  startedAt: number;
  dbRoundTrips: number;
  dbMs: number;
  /** Upstash REST requests (one HTTP request each: an auto-pipelined batch counts once), to either Redis. */
  redisRoundTrips: number;
  cacheLookups: number;
  cacheMs: number;
  /** The outcome that decided the response, when a cache was involved. */
  cacheStatus?: CacheStatus;
  /** Hits and misses per cache layer (e.g. "l0", "cache-api", "kv", "redis"). */
  cacheLayers: Record<string, { hits: number; misses: number }>;
  /**
   * Dependencies that failed or were skipped (after a recent failure) while serving this request:
   * "db", "redis", "kv", "cache-api". The request may still have succeeded without them (a cache
   * layer is optional; stale-if-error). In the request's log line and metrics data point.
   */
  degraded: string[];
};

const storage = new AsyncLocalStorage<RequestStats>();

/** A record with nothing counted yet, started now. */
export function newRequestStats(): RequestStats {
  return {
    startedAt: Date.now(),
    dbRoundTrips: 0,
    dbMs: 0,
    redisRoundTrips: 0,
    cacheLookups: 0,
    cacheMs: 0,
    cacheLayers: {},
    degraded: [],
  };
}

/** The current request's record, or undefined outside a request (queue, cron, tests calling services). */
export function currentRequestStats(): RequestStats | undefined {
  return storage.getStore();
}

/** Runs `fn` with `stats` as the current record. */
export function withRequestStats<T>(stats: RequestStats, fn: () => T): T {
  return storage.run(stats, fn);
}

/**
 * Runs `fn` outside the current request's record: for work the response does not wait for (a cache
 * write in the background), whose round trips are then not the request's in Server-Timing and its
 * data point, which say what the shopper waited on.
 */
export function detachedFromRequest<T>(fn: () => T): T {
  return storage.exit(fn);
}

/** Counts one Upstash REST request on the current request's record (src/cache/redis.ts calls it). */
export function recordRedisRoundTrip(): void {
  const stats = currentRequestStats();
  if (stats) stats.redisRoundTrips += 1;
}

/** Counts one cache lookup in a layer. */
export function recordCacheLookup(layer: string, hit: boolean, ms = 0): void {
  const stats = currentRequestStats();
  if (!stats) return;
  stats.cacheLookups += 1;
  stats.cacheMs += ms;
  const counts = (stats.cacheLayers[layer] ??= { hits: 0, misses: 0 });
  if (hit) counts.hits += 1;
  else counts.misses += 1;
}

/** Notes that a dependency failed or was skipped for the current request (once per dependency). */
export function recordDegraded(dependency: string): void {
  const stats = currentRequestStats();
  if (stats && !stats.degraded.includes(dependency)) stats.degraded.push(dependency);
}
