import type { RequestSample } from "../observability/data-point";
import { coloOf, recordRequest } from "../observability/request-record";
import { serverTiming, serverTimingMode } from "../observability/server-timing";
import { peekMemoryHit } from "./catalog-cache";
import { createDb } from "../db/client";
import type { CacheEntry } from "./entry";
import { adminClaimOf, ifNoneMatch } from "./http-caching";
import { requestIdFor } from "../lib/request-id";
import { knownCatalogRead, pathAndQuery } from "./known-reads";

/**
 * Catalog reads answered from this isolate's memory (L0) before the Hono app runs: the hot path.
 *
 * A HIT costs no I/O, yet through the app it pays every middleware (request stats, security headers,
 * CORS, body limit, JSON parsing, validation, a Response copied twice): about three hello worlds of
 * CPU. Here a HIT is one map lookup and one Response, so it costs close to a hello world. It answers
 * exactly what the app would, because everything it does not compute itself it learnt from the app:
 *
 *   - which URL is which catalog read (and its route pattern) is remembered from the app's own
 *     validated reads (known-reads.ts, filled by http-caching.ts), so validation stays in one
 *     place: a URL the app never accepted goes to the app;
 *   - the headers every response gets from middleware (security headers, CORS for a request without
 *     `Origin`) are copied from the app's last catalog response in this isolate (`learnFromApp`);
 *   - the entry, its freshness and the version rules are the catalog cache's (`peekMemoryHit`).
 *
 * Anything else goes to the app, unchanged: not a GET, an `Origin` header (CORS depends on it), a
 * token claiming admin (admin reads bypass the cache), an entry that is not a fresh HIT (STALE starts a
 * refresh, MISS loads), a version this isolate must re-read first. Every hit leaves the same metrics
 * data point and log line as the app's requests (`recordRequest`).
 */

/** The middleware headers of a catalog response, by name (lower case). */
type Learnt = Readonly<Record<string, string>>;
/** Per env object (one per deployment; tests run several). */
const learntHeaders = new WeakMap<object, Learnt>();

/** Per-request headers: never learnt, set by the hot path itself. */
const PER_RESPONSE = new Set([
  "x-request-id",
  "server-timing",
  "x-cache",
  "etag",
  "cache-control",
  "content-length",
  "content-type",
  "date",
]);

/**
 * What a hot HIT measures: no database, one L0 lookup, and no time on workerd's clocks, which only move
 * on I/O (a HIT does none). So Server-Timing is the same string for every hot HIT of a mode.
 */
const HIT_SAMPLE: RequestSample = {
  method: "GET",
  route: "",
  status: 200,
  cacheStatus: "HIT",
  colo: "",
  durationMs: 0,
  dbRoundTrips: 0,
  dbMs: 0,
  cacheLookups: 1,
  cacheMs: 0,
  redisRoundTrips: 0,
  degraded: "",
};
const HIT_SERVER_TIMING = {
  detail: serverTiming(HIT_SAMPLE, "detail"),
  total: serverTiming(HIT_SAMPLE, "total"),
  off: undefined,
} as const;

const CATALOG_PREFIXES = ["/api/v1/products", "/api/v1/categories"];

/**
 * The L0 HIT for `request`, or undefined when the app must answer it. `ctx.waitUntil` carries the
 * metrics sink's batch, as in the app.
 */
export function serveHotRead(request: Request, env: Env, ctx: ExecutionContext): Response | undefined {
  if (request.method !== "GET") return undefined;
  const learnt = learntHeaders.get(env);
  if (!learnt) return undefined;
  const target = pathAndQuery(request.url);
  const known = target === undefined ? undefined : knownCatalogRead(target);
  if (!known) return undefined;
  const sent = request.headers;
  if (sent.has("Origin")) return undefined;
  const authorization = sent.get("Authorization");
  if (authorization !== null && claimsAdminHeader(authorization)) return undefined;
  const waitUntil = (promise: Promise<unknown>) => ctx.waitUntil(promise);
  const hit = peekMemoryHit(env, known.resource, () => createDb(env), waitUntil);
  if (!hit) return undefined;
  const { entry } = hit;

  const requestId = requestIdFor(sent.get("X-Request-Id"));
  const notModified = ifNoneMatch(sent.get("If-None-Match") ?? undefined, entry.etag);
  const sample: RequestSample = { ...HIT_SAMPLE, route: known.route, status: notModified ? 304 : 200, colo: coloOf(env, request) };
  const prepared = preparedHeaders(entry, learnt, HIT_SERVER_TIMING[serverTimingMode(env)], hit.maxAge, notModified);
  const response = new Response(notModified ? null : (hit.bytes ?? entry.body), { status: sample.status, headers: prepared });
  // The Response has its own copy of the headers: the prepared set stays as it was.
  response.headers.set("X-Request-Id", requestId);
  recordRequest({ env, waitUntil, requestId, path: pathOf(target!) }, sample);
  return response;
}

/** Every header of a HIT but X-Request-Id, per entry: rebuilt when max-age changes (at most once a second). */
type Prepared = { learnt: Learnt; timing: string | undefined; maxAge: number; ok: Headers; notModified?: Headers };
const prepared = new WeakMap<CacheEntry, Prepared>();

/**
 * The headers of a HIT of `entry`. Building a Headers object of ~20 fields costs several times what a
 * hello world does in workerd; reusing one per entry (the Response copies it) costs about one.
 */
function preparedHeaders(entry: CacheEntry, learnt: Learnt, timing: string | undefined, maxAge: number, notModified: boolean): Headers {
  let held = prepared.get(entry);
  if (!held || held.maxAge !== maxAge || held.learnt !== learnt || held.timing !== timing) {
    held = { learnt, timing, maxAge, ok: hitHeaders(entry, learnt, timing, maxAge, true) };
    prepared.set(entry, held);
  }
  if (!notModified) return held.ok;
  return (held.notModified ??= hitHeaders(entry, learnt, timing, maxAge, false));
}

function hitHeaders(entry: CacheEntry, learnt: Learnt, timing: string | undefined, maxAge: number, withBody: boolean): Headers {
  const headers: Record<string, string> = { ...learnt };
  headers.ETag = entry.etag;
  headers["Cache-Control"] = `public, max-age=${maxAge}`;
  headers["X-Cache"] = "HIT";
  // The app's rule (SERVER_TIMING, src/observability/server-timing.ts), for a HIT's figures.
  if (timing !== undefined) headers["Server-Timing"] = timing;
  if (withBody) headers["Content-Type"] = "application/json";
  return new Headers(headers);
}

/**
 * Learns the middleware headers from an app response to a catalog GET without `Origin`: done once per
 * env object (the headers come from configuration, which does not change while an isolate lives).
 */
export function learnFromApp(request: Request, env: Env, response: Response): void {
  if (learntHeaders.has(env) || request.method !== "GET" || response.status !== 200) return;
  if (request.headers.has("Origin") || !response.headers.has("X-Cache")) return;
  const target = pathAndQuery(request.url);
  if (target === undefined || !CATALOG_PREFIXES.some((prefix) => target.startsWith(prefix))) return;
  const learnt: Record<string, string> = {};
  for (const [name, value] of response.headers) if (!PER_RESPONSE.has(name)) learnt[name] = value;
  learntHeaders.set(env, Object.freeze(learnt));
}

function pathOf(target: string): string {
  const query = target.indexOf("?");
  return query < 0 ? target : target.slice(0, query);
}

/** Customers' tokens are sent with every read; the claim check is pure on the string, so the last few answers are kept. */
const adminClaims = new Map<string, boolean>();
const MAX_ADMIN_CLAIMS = 1_000;

function claimsAdminHeader(authorization: string): boolean {
  let claims = adminClaims.get(authorization);
  if (claims === undefined) {
    claims = adminClaimOf(authorization) !== undefined;
    if (adminClaims.size >= MAX_ADMIN_CLAIMS) adminClaims.clear();
    adminClaims.set(authorization, claims);
  }
  return claims;
}
