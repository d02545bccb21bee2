import type { Context } from "hono";
import { matchedRoutes } from "hono/route";
import { settingsOf } from "../config";
import { errorFields, log, requestLogEnabled, warnThrottled, type LogFields } from "./logging";
import { LOCAL_COLO, UNMATCHED_ROUTE, toDataPoint, type RequestSample } from "./data-point";
import { sendToMetricsSink } from "./metrics-sink-client";

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
 * Used by the app (src/middleware/observe-requests.ts) and by the L0 hit path (src/cache/hot-reads.ts),
 * so every request leaves the same record whichever path answered it. Never throws.
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

/** The Cloudflare location that served the request; "local" in local environments and when the runtime gives none. */
export function coloOf(env: Pick<Env, "ENVIRONMENT">, request: Request): string {
  // Miniflare fakes a `cf` object (colo "DFW") under wrangler dev: locally the colo is "local".
  if (settingsOf(env).localEnvironment) return LOCAL_COLO;
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

/** Runs one observability step; a failure is a throttled warning, never the request's. */
export function guarded(step: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    warnThrottled(`observe-${step}`, `request observability step failed: ${step}`, errorFields(err));
  }
}
