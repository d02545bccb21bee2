import type { Context, TypedResponse } from "hono";
import type { JSONParsed } from "hono/utils/types";
import type { AppEnv } from "../app-env";
import { currentRequestStats, type CacheStatus } from "../middleware/request-stats";
import { readToken } from "../services/tokens";
import { readCatalog, type CatalogContext } from "./catalog-cache";
import { etagOf, remainingSeconds, type CacheEntry } from "./entry";
import type { CatalogResource } from "./keys";
import { pathAndQuery, rememberCatalogRead } from "./known-reads";
import { routePattern } from "../middleware/observe-requests";

/**
 * The HTTP face of the catalog cache, for GET /products, /products/{id} and /categories:
 *   - reads with a valid admin token skip every layer (X-Cache: BYPASS, Cache-Control: private, no-store);
 *   - other reads go through the cache (catalog-cache.ts); a customer's token or an invalid one is
 *     ignored, as public reads always did;
 *   - every 200 carries a strong ETag and answers 304 to a matching If-None-Match;
 *   - Cache-Control: public, max-age = what is left of the entry's 5 s (so a browser or proxy keeping
 *     it cannot stretch the bound); no stale-while-revalidate, for the same reason;
 *   - X-Cache: HIT | MISS | STALE | BYPASS, also set on the request stats (Server-Timing, metrics).
 */
export async function serveCatalogRead<T>(
  c: Context<AppEnv>,
  resource: CatalogResource,
  load: () => Promise<T>,
): Promise<Response & TypedResponse<JSONParsed<T>, 200, "json">> {
  const stats = currentRequestStats();
  if (await isAdminRead(c)) {
    if (stats) stats.cacheStatus = "BYPASS";
    const body = JSON.stringify(await load());
    return respond(c, { body, etag: await etagOf(body) }, "BYPASS", "private, no-store");
  }
  // Until the cache says otherwise: a read that fails (e.g. 404) was a miss, errors are never cached.
  if (stats) stats.cacheStatus = "MISS";
  const { entry, status } = await readCatalog(catalogContext(c), resource, load);
  // Validated and public: from now on the hot path (hot-reads.ts) may answer this URL from L0.
  const target = pathAndQuery(c.req.url);
  if (target !== undefined) rememberCatalogRead(target, { resource, route: routePattern(c) });
  return respond(c, entry, status, `public, max-age=${remainingSeconds(entry)}`);
}

function respond<T>(
  c: Context<AppEnv>,
  entry: Pick<CacheEntry, "body" | "etag">,
  status: CacheStatus,
  cacheControl: string,
): Response & TypedResponse<JSONParsed<T>, 200, "json"> {
  const stats = currentRequestStats();
  if (stats) stats.cacheStatus = status;
  const headers = { ETag: entry.etag, "Cache-Control": cacheControl, "X-Cache": status };
  const res = ifNoneMatch(c.req.header("If-None-Match"), entry.etag)
    ? c.body(null, 304, headers)
    : c.body(entry.body, 200, { ...headers, "Content-Type": "application/json" });
  // The body is the service's JSON as is: its type is the one the route declares.
  return res as unknown as Response & TypedResponse<JSONParsed<T>, 200, "json">;
}

/** If-None-Match with the weak comparison RFC 9110 prescribes for it: `*`, or any listed tag equal ignoring W/. */
export function ifNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === "*") return true;
  const opaque = etag.replace(/^W\//, "");
  return header.split(",").some((tag) => tag.trim().replace(/^W\//, "") === opaque);
}

const BEARER = /^Bearer\s+(\S+)$/i;

/**
 * A read made with a valid token carrying the `adm` claim. Only a token that claims it is verified
 * (HMAC and expiry), so customers' reads cost no signature check. The claim is enough here (no
 * database lookup): a revoked admin's reads are merely exact, and admin routes re-check the database.
 */
async function isAdminRead(c: Context<AppEnv>): Promise<boolean> {
  const token = BEARER.exec(c.req.header("Authorization") ?? "")?.[1];
  if (!token || !claimsAdmin(token)) return false;
  const user = await readToken(token, c.env.JWT_SECRET);
  return user?.isAdmin === true;
}

/** Whether a token's payload claims `adm` (unverified: a claim only decides who must be verified). */
export function claimsAdmin(token: string): boolean {
  const payload = token.split(".")[1];
  if (!payload) return false;
  try {
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    return (JSON.parse(json) as { adm?: unknown }).adm === true;
  } catch {
    return false;
  }
}

function catalogContext(c: Context<AppEnv>): CatalogContext {
  return { env: c.env, db: c.get("db"), origin: new URL(c.req.url).origin, waitUntil: waitUntilOf(c) };
}

/** The request's waitUntil; outside a Worker invocation (no execution context) the promise just runs. */
function waitUntilOf(c: Context<AppEnv>): (promise: Promise<unknown>) => void {
  try {
    const ctx = c.executionCtx;
    return (promise) => ctx.waitUntil(promise);
  } catch {
    return (promise) => void promise.catch(() => {});
  }
}
