import type { Context, MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import type { AppEnv } from "../app-env";
import { errorFields, log, type LogFields } from "../log";
import {
  LOCAL_COLO,
  NO_CACHE_STATUS,
  UNMATCHED_ROUTE,
  toDataPoint,
  type RequestSample,
} from "../observability/data-point";
import { requestLogEnabled, warnThrottled } from "../observability/logging";
import { sendToMetricsSink } from "../observability/metrics-sink-client";
import { serverTiming, serverTimingMode } from "../observability/server-timing";
import { currentRequestStats } from "./request-stats";

const LOCAL_ENVIRONMENTS = new Set(["development", "test"]);

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

/** What recordRequest needs of a request besides its sample: no Hono context, so a path outside the app can use it. */
export type ObservedRequest = {
  env: Env;
  waitUntil: (promise: Promise<unknown>) => void;
  requestId: string;
  path: string;
  userId?: number;
  /** The error a failed request ended with (its message and stack go to the log line only). */
  error?: unknown;
};

/**
 * The data point (Analytics Engine, and locally the metrics sink) and the log line of one request.
 * Used by this middleware and by the L0 hit path (src/cache/hot-reads.ts), so every request leaves the
 * same record whichever path answered it. Never throws.
 */
export function recordRequest(request: ObservedRequest, sample: RequestSample): void {
  const point = toDataPoint(sample);
  // writeDataPoint does not block: it queues the point and returns. A missing binding is skipped.
  guarded("metrics-write", () => request.env.METRICS?.writeDataPoint(point));
  guarded("metrics-sink", () => {
    if (request.env.METRICS_SINK_URL) sendToMetricsSink(request, request.env.METRICS_SINK_URL, { timestamp: Date.now(), ...point });
  });
  guarded("request-log", () => logRequest(request, sample));
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
    degraded: [...(stats?.degraded ?? [])].sort().join(","),
  };
}

/**
 * The matched route's pattern (`/api/v1/products/:id`), never the raw path: the last matched route
 * that is an endpoint rather than a wildcard middleware (`app.use`). Only middleware matched → unmatched.
 */
export function routePattern(c: Context): string {
  const routes = matchedRoutes(c);
  for (let i = routes.length - 1; i >= 0; i--) {
    const route = routes[i]!;
    if (route.method === "ALL" && route.path.endsWith("*")) continue;
    return route.path;
  }
  return UNMATCHED_ROUTE;
}

function colo(c: Context<AppEnv>): string {
  return coloOf(c.env, c.req.raw);
}

/** The Cloudflare location that served the request; "local" in local environments and when the runtime gives none. */
export function coloOf(env: Pick<Env, "ENVIRONMENT">, request: Request): string {
  // Miniflare fakes a `cf` object (colo "DFW") under wrangler dev: locally the colo is "local".
  if (LOCAL_ENVIRONMENTS.has(env.ENVIRONMENT)) return LOCAL_COLO;
  const value = request.cf?.colo;
  return typeof value === "string" && value ? value : LOCAL_COLO;
}

function logRequest(request: ObservedRequest, sample: RequestSample): void {
  const failed = sample.status >= 500;
  if (!failed && !requestLogEnabled(request.env)) return;
  const fields: LogFields = {
    request_id: request.requestId,
    method: sample.method,
    route: sample.route,
    path: request.path,
    status: sample.status,
    duration_ms: round(sample.durationMs),
  };
  if (request.userId !== undefined) fields.user_id = request.userId;
  Object.assign(fields, {
    cache_status: sample.cacheStatus,
    db_round_trips: sample.dbRoundTrips,
    db_ms: round(sample.dbMs),
    cache_lookups: sample.cacheLookups,
    colo: sample.colo,
  });
  // Which dependency failed or was skipped: a 200 served without Redis, or stale-if-error, says so here.
  if (sample.degraded) fields.degraded = sample.degraded;
  // The error onError rendered (Hono keeps it on the context): its message and stack, server side only.
  if (failed && request.error !== undefined) Object.assign(fields, errorFields(request.error));
  log(failed ? "error" : "info", failed ? "request failed" : "request", fields);
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

function guarded(step: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    warnThrottled(`observe-${step}`, `request observability step failed: ${step}`, errorFields(err));
  }
}
