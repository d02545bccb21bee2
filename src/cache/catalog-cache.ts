import type { Database } from "../db/client";
import { recordCacheLookup } from "../observability/request-stats";
import { CatalogReader, secondsLeft, type CatalogContext, type CatalogRead, type Load, type ReadKeeping } from "./catalog-reader";
import { scopeFor } from "./catalog-scope";
import type { CacheEntry } from "./entry";
import type { CatalogResource } from "./keys";
import { dataAgeOf } from "./memory";
import { FRESH_MS } from "./policy";
import type { Reach } from "./reach";

/**
 * The catalog's read-through cache: L0 isolate memory → L1 Cache API (per location) → L2 KV or
 * Redis (global) → Postgres, under versioned keys (keys.ts, versions.ts), with the age rules of
 * policy.ts; in L0, product lists and details are kept current by the stock view (stock-view.ts)
 * instead of being reloaded. See README "Catalog cache" for the whole picture and its bounds.
 *
 * This file is the cache's public face: a read (readCatalog), the hot path's L0 hit (peekMemoryHit),
 * and invalidation (from catalog-invalidation.ts). The state per isolate and the layer handles are
 * in catalog-scope.ts, the steps of a read in catalog-reader.ts.
 */

export type { CatalogContext, CatalogRead, ReadKeeping } from "./catalog-reader";
export { clearCatalogMemory, invalidateCatalog } from "./catalog-invalidation";

/**
 * The body of a catalog read, from the first layer that has it current enough, else from `load`
 * (Postgres), with how it was served:
 *   HIT    data younger than FRESH_MS (in L0: since its load or the last stock check covering it;
 *          a "version" entry: until the version changes);
 *   STALE  data between FRESH_MS and MAX_AGE_MS, while one refresh makes it current: the stock view's
 *          for L0 entries it keeps, else one background refresh per key;
 *   MISS   loaded from Postgres (one load per key per isolate, however many requests wait for it);
 *   BYPASS the version store did not answer, so no cached entry can be trusted: loaded from Postgres.
 * Stale-if-error: when Postgres does not answer (isDatabaseUnavailable), an entry younger than
 * STALE_IF_ERROR_MS is served as STALE instead; without one the error is passed on (503).
 * `load` throwing (e.g. 404) is passed on; errors are never cached.
 * A "long-tail" read (reach.ts) skips the global store: L0, the Cache API, Postgres.
 *
 * An L0 hit does no I/O and no hashing: the version (trusted for VERSION_TTL_MS), one Map lookup,
 * a few numbers compared, and at most one stock refresh started in the background per second.
 */
export async function readCatalog(
  ctx: CatalogContext,
  resource: CatalogResource,
  load: Load,
  keeping: ReadKeeping = "age",
  reach: Reach = "shared",
): Promise<CatalogRead> {
  const scope = scopeFor(ctx.env);
  const reader = new CatalogReader(ctx, scope, resource, load, keeping, reach);
  const version = await reader.currentVersion();
  if (version === undefined) return reader.bypass();
  if (scope.memoryVersion !== version) scope.forget(version); // another isolate's admin write: none of L0 is current

  const now = Date.now();
  const held = scope.memory.lookup(resource, now);
  // No timing for L0: a Map lookup, and the Workers clock does not move during synchronous code anyway.
  recordCacheLookup("l0", held !== undefined);
  if (held) return reader.fromMemory(held, now);
  return reader.fromBelow(version);
}

/** What the hot path serves: an L0 HIT with its max-age and, made once per entry, its bytes. */
export type MemoryHit = { entry: CacheEntry; maxAge: number; bytes?: Uint8Array<ArrayBuffer> };

/**
 * The L0 HIT of `resource` right now without any I/O, exactly as readCatalog would answer it (the
 * version needs no re-read and is the one L0 holds; the entry's data is younger than FRESH_MS); else
 * undefined, and the read takes the app's path. Like an L0 hit there, it marks the entry read and
 * starts the stock view's refresh when one is due (`db` is made only then). For hot-reads.ts.
 * It makes no reader and no layers: a Map lookup, a few numbers compared, and the answer.
 */
export function peekMemoryHit(
  env: Env,
  resource: CatalogResource,
  db: () => Database,
  waitUntil: (promise: Promise<unknown>) => void,
): MemoryHit | undefined {
  const scope = scopeFor(env);
  const version = scope.version.fresh;
  if (version === undefined || scope.memoryVersion !== version) return undefined;
  const now = Date.now();
  const held = scope.memory.lookup(resource, now);
  if (!held) return undefined;
  const age = dataAgeOf(held, now);
  if (age >= FRESH_MS) return undefined;
  held.readAt = now;
  if (held.keeping === "stock") scope.refreshStock(held, db, waitUntil, now);
  return { entry: held.entry, maxAge: secondsLeft(age), bytes: held.bytes };
}
