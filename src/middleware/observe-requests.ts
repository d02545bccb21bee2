import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env";
import { errorFields, warnThrottled } from "../observability/logging";
import { NO_CACHE_STATUS, type RequestSample } from "../observability/data-point";
import { coloOf, guarded, recordRequest, routePattern } from "../observability/request-record";
import { currentRequestStats } from "../observability/request-stats";
import { serverTiming, serverTimingMode } from "../observability/server-timing";

/**
 * What every request leaves behind, measured around everything after trackRequestStats (mounted right
 * after it in src/app.ts), so it sees the final response even when onError or notFound rendered it:
 *
 *   - a `Server-Timing` header: database time and round trips, cache time and outcome, total, or
 *     less or nothing, as SERVER_TIMING says (src/observability/server-timing.ts);
 *   - one Analytics Engine data point (METRICS), and locally the same point to METRICS_SINK_URL;
 *   - one JSON log line (LOG_REQUESTS, on by default). A failed request (5xx) is always logged, once,
 *     with its error and stack: this line is the only one onError's errors get.
 *
 * None of it can fail or delay the request: each step is guarded, the data point write does not
 * block and the sink POST runs in waitUntil.
 */
export const observeRequests: MiddlewareHandler<AppEnv> = async (c, next) => {
  const started = performance.now();
  // onError turns every Error into a response inside next(); only a thrown non-Error gets out. It is
  // still counted (as a 500, the status Hono answers it with) and then rethrown unchanged.
  let escaped: { value: unknown } | undefined;
  try {
    await next();
  } catch (err) {
    escaped = { value: err };
  }

  let sample: RequestSample | undefined;
  try {
    sample = describeRequest(c, performance.now() - started, escaped ? 500 : c.res.status);
  } catch (err) {
    warnThrottled("observe-describe", "could not describe the request for metrics", errorFields(err));
  }
  if (sample) observe(c, sample, escaped?.value);
  if (escaped) throw escaped.value;
};

function observe(c: Context<AppEnv>, sample: RequestSample, escaped: unknown): void {
  if (escaped === undefined) {
    guarded("server-timing", () => {
      const timing = serverTiming(sample, serverTimingMode(c.env));
      if (timing !== undefined) c.header("Server-Timing", timing, { append: true });
    });
  }
  recordRequest(
    {
      env: c.env,
      waitUntil: (promise) => c.executionCtx.waitUntil(promise),
      requestId: c.get("requestId"),
      path: c.req.path,
      userId: c.get("user")?.id,
      error: escaped ?? c.error,
    },
    sample,
  );
}

function describeRequest(c: Context<AppEnv>, durationMs: number, status: number): RequestSample {
  const stats = currentRequestStats();
  return {
    method: c.req.method,
    route: routePattern(c),
    status,
    cacheStatus: stats?.cacheStatus ?? NO_CACHE_STATUS,
    colo: colo(c),
    durationMs,
    dbRoundTrips: stats?.dbRoundTrips ?? 0,
    dbMs: stats?.dbMs ?? 0,
    cacheLookups: stats?.cacheLookups ?? 0,
    cacheMs: stats?.cacheMs ?? 0,
    redisRoundTrips: stats?.redisRoundTrips ?? 0,
    degraded: [...(stats?.degraded ?? [])].sort().join(","),
  };
}

function colo(c: Context<AppEnv>): string {
  return coloOf(c.env, c.req.raw);
}
