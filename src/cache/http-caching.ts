import type { Context, TypedResponse } from "hono";
import type { JSONParsed } from "hono/utils/types";
import type { AppEnv } from "../app-env";
import { currentRequestStats, type CacheStatus, type RequestStats } from "../observability/request-stats";
import { bearerToken, claimsAdmin, readToken } from "../lib/access-token";
import { runAfterResponse } from "../lib/run-after-response";
import { readCatalog, type CatalogContext, type CatalogRead, type ReadKeeping } from "./catalog-cache";
import { etagOf, type CacheEntry } from "./entry";
import type { CatalogResource } from "./keys";
import { pathAndQuery, rememberCatalogRead } from "./known-reads";
import type { Reach } from "./reach";
import { routePattern } from "../observability/request-record";

/**
 * The HTTP face of the catalog cache, for GET /products, /products/{id} and /categories:
 *   - reads with a valid admin token skip every layer (X-Cache: BYPASS, Cache-Control: private, no-store);
 *   - other reads go through the cache (catalog-cache.ts), a long-tail one (reach.ts) without the
 *     global store; a customer's token or an invalid one is ignored, as public reads always did;
 *   - every 200 carries a strong ETag and answers 304 to a matching If-None-Match;
 *   - Cache-Control: public, max-age = what is left of the entry's 5 s (so a browser or proxy keeping
 *     it cannot stretch the bound); no stale-while-revalidate, for the same reason;
 *   - X-Cache: HIT | MISS | STALE | BYPASS, also set on the request stats (Server-Timing, metrics).
 * An L0 hit costs a header read or two, one lookup and a Response: the body's bytes, its ETag and the
 * header sets are made once per entry (and per second of max-age), not per request.
 */
export async function serveCatalogRead<T>(
  c: Context<AppEnv>,
  resource: CatalogResource,
  load: () => Promise<T>,
  keeping?: ReadKeeping,
  reach?: Reach,
): Promise<Response & TypedResponse<JSONParsed<T>, 200, "json">> {
  const stats = currentRequestStats();
  const claimed = adminClaim(c);
  if (claimed !== undefined && (await isAdmin(claimed, c.env.JWT_SECRET))) {
    if (stats) stats.cacheStatus = "BYPASS";
    const body = JSON.stringify(await load());
    const etag = await etagOf(body);
    return respond(
      c,
      stats,
      { entry: { body, etag, storedAt: Date.now() }, status: "BYPASS", maxAge: 0 },
      { ETag: etag, "Cache-Control": "private, no-store", "X-Cache": "BYPASS" },
    );
  }
  // Until the cache says otherwise: a read that fails (e.g. 404) was a miss, errors are never cached.
  if (stats) stats.cacheStatus = "MISS";
  const read = await readCatalog(catalogContext(c), resource, load, keeping, reach);
  // Validated and public: from now on the hot path (hot-reads.ts) may answer this URL from L0.
  const target = pathAndQuery(c.req.url);
  if (target !== undefined) rememberCatalogRead(target, { resource, route: routePattern(c) });
  return respond(c, stats, read);
}

function respond<T>(
  c: Context<AppEnv>,
  stats: RequestStats | undefined,
  read: CatalogRead,
  bypassHeaders?: Record<string, string>,
): Response & TypedResponse<JSONParsed<T>, 200, "json"> {
  if (stats) stats.cacheStatus = read.status;
  const headers = bypassHeaders
    ? { ok: { ...bypassHeaders, "Content-Type": "application/json" }, notModified: bypassHeaders }
    : headersFor(read);
  const sent = c.req.header("If-None-Match");
  const res =
    sent !== undefined && ifNoneMatch(sent, read.entry.etag)
      ? c.body(null, 304, headers.notModified)
      : c.body(read.bytes ?? read.entry.body, 200, headers.ok);
  // The body is the service's JSON as is: its type is the one the route declares.
  return res as unknown as Response & TypedResponse<JSONParsed<T>, 200, "json">;
}

type HeaderSets = { status: CacheStatus; maxAge: number; ok: Record<string, string>; notModified: Record<string, string> };

/**
 * The headers of a 200 and of a 304 for an entry, made once per entry, X-Cache and max-age: a hot
 * entry gets a new set at most once a second. Hono copies them into the response (never changes them).
 */
const headerSets = new WeakMap<CacheEntry, HeaderSets>();

function headersFor(read: CatalogRead): HeaderSets {
  const held = headerSets.get(read.entry);
  if (held && held.status === read.status && held.maxAge === read.maxAge) return held;
  const notModified = { ETag: read.entry.etag, "Cache-Control": `public, max-age=${read.maxAge}`, "X-Cache": read.status };
  const sets: HeaderSets = {
    status: read.status,
    maxAge: read.maxAge,
    ok: { ...notModified, "Content-Type": "application/json" },
    notModified,
  };
  headerSets.set(read.entry, sets);
  return sets;
}

/** If-None-Match with the weak comparison RFC 9110 prescribes for it: `*`, or any listed tag equal ignoring W/. */
export function ifNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  // What a client sends back is the tag it got: one comparison, no parsing.
  if (header === etag) return true;
  if (header.trim() === "*") return true;
  const opaque = etag.startsWith("W/") ? etag.slice(2) : etag;
  return header.split(",").some((tag) => {
    const trimmed = tag.trim();
    return (trimmed.startsWith("W/") ? trimmed.slice(2) : trimmed) === opaque;
  });
}

/**
 * The bearer token of a read that claims the `adm` claim, else undefined: no token (most reads) costs
 * one header read. Only a token that claims it is verified (isAdmin), so customers' reads cost no
 * signature check.
 */
function adminClaim(c: Context<AppEnv>): string | undefined {
  return adminClaimOf(c.req.header("Authorization"));
}

/** The bearer token of an `Authorization` header when it claims `adm` (unverified), else undefined. */
export function adminClaimOf(authorization: string | null | undefined): string | undefined {
  const token = bearerToken(authorization);
  return token && claimsAdmin(token) ? token : undefined;
}

/**
 * A valid token (HMAC and expiry) carrying the `adm` claim. The claim is enough here (no database
 * lookup): a revoked admin's reads are merely exact, and admin routes re-check the database.
 */
async function isAdmin(token: string, secret: string): Promise<boolean> {
  const user = await readToken(token, secret);
  return user?.isAdmin === true;
}

/** What the cache needs from the request; the origin (a URL parse) is only made if used: an L0 hit does not. */
function catalogContext(c: Context<AppEnv>): CatalogContext {
  return {
    env: c.env,
    db: c.get("db"),
    get origin() {
      return new URL(c.req.url).origin;
    },
    waitUntil: (promise) => runAfterResponse(promise, () => c.executionCtx),
  };
}
