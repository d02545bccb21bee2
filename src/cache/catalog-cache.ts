import type { Database } from "../db/client";
import { isDatabaseUnavailable } from "../db/resilience";
import { ApiError } from "../errors";
import { errorFields, log } from "../log";
import { recordCacheLookup, recordDegraded, type CacheStatus } from "../middleware/request-stats";
import { warnThrottled } from "../observability/logging";
import { EdgeCache } from "./edge-cache";
import { ageOf, createEntry, freshnessOf, servableIfError, type CacheEntry } from "./entry";
import { KvStore, RedisStore, type GlobalStore } from "./global-store";
import { cacheNamespace, entryKey, plainEntryKey, type CatalogResource } from "./keys";
import { MemoryCache } from "./memory";
import { BUMP_TIMEOUT_MS, CALL_TIMEOUT_MS, MEMORY_MAX_BYTES, MEMORY_MAX_ENTRIES, RETRY_AFTER_MS, STALE_IF_ERROR_MS } from "./policy";
import { createRedis, usesRedis } from "./redis";
import { LayerGuard } from "./resilience";
import { SingleFlight } from "./single-flight";
import { PostgresVersionSource, RedisVersionSource, VersionCache, type VersionSource } from "./versions";

/**
 * The catalog's read-through cache: L0 isolate memory → L1 Cache API (per location) → L2 KV or
 * Redis (global) → Postgres, under versioned keys (keys.ts, versions.ts), with the age rules of
 * policy.ts. See README "Catalog cache" for the whole picture and its bounds.
 */

/** What a read needs from the request: bindings, the database, the Worker's origin (Cache API keys) and waitUntil. */
export type CatalogContext = {
  env: Env;
  db: Database;
  origin: string;
  waitUntil: (promise: Promise<unknown>) => void;
};

export type CatalogRead = { entry: CacheEntry; status: CacheStatus };

type Source = "l0" | "cache-api" | "kv" | "redis" | "postgres" | "stale-if-error";
type Filled = { entry: CacheEntry; source: Source };
type Load = () => Promise<unknown>;

/** Everything this isolate keeps for one cache scope (backend + namespace): one in production, several in tests. */
class Scope {
  readonly memory = new MemoryCache(MEMORY_MAX_ENTRIES, MEMORY_MAX_BYTES);
  readonly version = new VersionCache();
  readonly loads = new SingleFlight<Filled>();
  readonly refreshing = new Set<string>();
  readonly versionGuard: LayerGuard;
  readonly edgeGuard = new LayerGuard("cache-api");
  readonly globalGuard: LayerGuard;
  /**
   * Until when Postgres counts as failing for this scope's loads: a read that has a stale-if-error
   * entry gets it at once instead of waiting for the database's timeout again.
   */
  databaseFailingUntil = 0;

  constructor(
    readonly namespace: string,
    readonly redis: boolean,
  ) {
    this.versionGuard = new LayerGuard(redis ? "versions-redis" : "versions-postgres");
    this.globalGuard = new LayerGuard(redis ? "redis" : "kv");
  }
}

const MAX_SCOPES = 32;
const scopes = new Map<string, Scope>();

/** What an env object's scope is, worked out once per object (one per deployment; tests make several). */
const scopeIds = new WeakMap<object, { id: string; namespace: string; redis: boolean }>();

function scopeFor(env: Env): Scope {
  let known = scopeIds.get(env);
  if (known === undefined) {
    const namespace = cacheNamespace(env);
    const redis = usesRedis(env);
    known = { id: redis ? `upstash ${env.UPSTASH_REDIS_REST_URL} ${namespace}` : `kv ${namespace}`, namespace, redis };
    scopeIds.set(env, known);
  }
  const { id, namespace, redis } = known;
  let scope = scopes.get(id);
  if (!scope) {
    if (scopes.size >= MAX_SCOPES) scopes.delete(scopes.keys().next().value!);
    scope = new Scope(namespace, redis);
    scopes.set(id, scope);
  }
  return scope;
}

/**
 * The request's handles on the layers below L0, made on first use (an L0 hit makes none). Clients are
 * per request: no I/O object is shared between requests.
 */
type Layers = { readonly versions: VersionSource; readonly edge?: EdgeCache; readonly global: GlobalStore };

function layersFor(scope: Scope, env: Env, db: Database, origin: string | undefined, timeoutMs: number): Layers {
  let redis: ReturnType<typeof createRedis> | undefined;
  const redisClient = () => (redis ??= createRedis(env, { retries: 0, timeoutMs, automaticDeserialization: false }));
  let versions: VersionSource | undefined;
  let edge: EdgeCache | undefined | null;
  let global: GlobalStore | undefined;
  return {
    get versions() {
      return (versions ??= scope.redis
        ? new RedisVersionSource(redisClient(), `${scope.namespace}:version`)
        : new PostgresVersionSource(db, scope.namespace));
    },
    get edge() {
      if (edge === undefined) edge = origin && EdgeCache.available() ? new EdgeCache(origin) : null;
      return edge ?? undefined;
    },
    get global() {
      return (global ??= scope.redis ? new RedisStore(redisClient()) : new KvStore(env.CATALOG_KV));
    },
  };
}

/**
 * The body of a catalog read, from the first layer that has it young enough, else from `load`
 * (Postgres), with how it was served:
 *   HIT    an entry younger than FRESH_MS;
 *   STALE  an entry between FRESH_MS and MAX_AGE_MS, while one background refresh gets a fresh one;
 *   MISS   loaded from Postgres (one load per key per isolate, however many requests wait for it);
 *   BYPASS the version store did not answer, so no cached entry can be trusted: loaded from Postgres.
 * Stale-if-error: when Postgres does not answer (isDatabaseUnavailable), an entry younger than
 * STALE_IF_ERROR_MS is served as STALE instead; without one the error is passed on (503).
 * `load` throwing (e.g. 404) is passed on; errors are never cached.
 */
export async function readCatalog(ctx: CatalogContext, resource: CatalogResource, load: Load): Promise<CatalogRead> {
  const scope = scopeFor(ctx.env);
  const layers = layersFor(scope, ctx.env, ctx.db, ctx.origin, CALL_TIMEOUT_MS);
  const version = await scope.version.current(() => layers.versions, scope.versionGuard);
  if (version === undefined) return bypass(ctx, scope, layers, resource, load);

  const key = await entryKey(scope.namespace, versionTag(scope, version), resource);
  const started = performance.now();
  const held = scope.memory.get(key);
  recordCacheLookup("l0", held !== undefined, performance.now() - started);
  if (held) return served(ctx, scope, layers, key, load, { entry: held, source: "l0" });

  const { value } = await scope.loads.run(key, () => fill(ctx, scope, layers, key, load), ctx.waitUntil);
  if (value.source === "postgres") return { entry: value.entry, status: "MISS" };
  if (value.source === "stale-if-error") return staleIfError(value.entry);
  return served(ctx, scope, layers, key, load, value);
}

/**
 * The L0 entry of `resource` when it is a HIT right now without any I/O (the version needs no
 * re-read, the key no hashing, the entry is fresh); else undefined and the read takes the full path.
 * The hot path (hot-reads.ts) serves these before the app runs.
 */
export function peekMemoryHit(env: Env, resource: CatalogResource): CacheEntry | undefined {
  const scope = scopeFor(env);
  const version = scope.version.fresh;
  if (version === undefined) return undefined;
  const key = plainEntryKey(scope.namespace, versionTag(scope, version), resource);
  const entry = key === undefined ? undefined : scope.memory.get(key);
  return entry && freshnessOf(entry) === "fresh" ? entry : undefined;
}

function versionTag(scope: Scope, version: number): string {
  return `${scope.redis ? "vr" : "vp"}${version}`;
}

/**
 * The version store did not answer: Postgres, exact (BYPASS). Should Postgres fail too (with KV alone
 * the version lives there), the entries of the version this isolate knew last may still be served
 * stale-if-error: no admin write can bump it without the database.
 */
async function bypass(ctx: CatalogContext, scope: Scope, layers: Layers, resource: CatalogResource, load: Load): Promise<CatalogRead> {
  const last = scope.version.lastKnown;
  const fallback = async () => {
    if (last === undefined) return undefined;
    const key = await entryKey(scope.namespace, versionTag(scope, last), resource);
    const found: Found = { fallback: scope.memory.getIfError(key) };
    if (!found.fallback) await lookup(layers.edge, scope.edgeGuard, key, found);
    if (!found.fallback) await lookup(layers.global, scope.globalGuard, key, found);
    return found.fallback;
  };
  const loadExact = () =>
    scope.loads.run(`bypass ${resource}`, async () => ({ entry: await loadEntry(scope, load), source: "postgres" as const }), ctx.waitUntil);
  if (databaseFailing(scope)) {
    const stale = await fallback();
    if (stale) {
      // Not waited for: one background load per resource and isolate finds out when Postgres is back.
      ctx.waitUntil(loadExact().catch(() => {}));
      return staleIfError(stale);
    }
  }
  try {
    const { value } = await loadExact();
    return { entry: value.entry, status: "BYPASS" };
  } catch (err) {
    if (!isDatabaseUnavailable(err)) throw err;
    const stale = await fallback();
    if (!stale) throw err;
    return staleIfError(stale);
  }
}

/** A read answered with an expired entry because Postgres is not answering: STALE, noted and logged (throttled). */
function staleIfError(entry: CacheEntry): CatalogRead {
  recordDegraded("db");
  warnThrottled("catalog-stale-if-error", "catalog reads served stale-if-error: the database is not answering", {
    age_ms: ageOf(entry),
    stale_if_error_ms: STALE_IF_ERROR_MS,
  });
  return { entry, status: "STALE" };
}

function databaseFailing(scope: Scope): boolean {
  return Date.now() < scope.databaseFailingUntil;
}

/** HIT or STALE for an entry found in a cache layer; a stale one also starts its refresh. */
function served(ctx: CatalogContext, scope: Scope, layers: Layers, key: string, load: Load, found: Filled): CatalogRead {
  if (freshnessOf(found.entry) === "fresh") return { entry: found.entry, status: "HIT" };
  revalidate(ctx, scope, layers, key, load, found.source);
  return { entry: found.entry, status: "STALE" };
}

/**
 * Below L0: the Cache API, then the global store, then Postgres; whatever answers fills the layers
 * above it. When Postgres does not answer, the youngest expired entry any layer still holds within
 * STALE_IF_ERROR_MS is the answer (stale-if-error); while Postgres is known to be failing, that
 * entry is served without waiting for it, and one background refresh per key tries Postgres again.
 */
async function fill(ctx: CatalogContext, scope: Scope, layers: Layers, key: string, load: Load): Promise<Filled> {
  const found: Found = { fallback: scope.memory.getIfError(key) };
  const fromEdge = await lookup(layers.edge, scope.edgeGuard, key, found);
  if (fromEdge) {
    scope.memory.set(key, fromEdge);
    return { entry: fromEdge, source: "cache-api" };
  }
  const fromGlobal = await lookup(layers.global, scope.globalGuard, key, found);
  if (fromGlobal) {
    scope.memory.set(key, fromGlobal);
    write(ctx, layers.edge, scope.edgeGuard, key, fromGlobal);
    return { entry: fromGlobal, source: layers.global.layer };
  }
  if (found.fallback && databaseFailing(scope)) {
    revalidate(ctx, scope, layers, key, load, "stale-if-error");
    return { entry: found.fallback, source: "stale-if-error" };
  }
  let entry: CacheEntry;
  try {
    entry = await loadEntry(scope, load);
  } catch (err) {
    if (found.fallback && isDatabaseUnavailable(err)) return { entry: found.fallback, source: "stale-if-error" };
    throw err;
  }
  store(ctx, scope, layers, key, entry);
  return { entry, source: "postgres" };
}

/**
 * Stale-while-revalidate, done here because the Cache API ignores the directive: one refresh per key
 * per isolate at a time, in the background (waitUntil). It takes a fresh entry from a layer below
 * the one that served the stale one (another isolate or location may have refreshed it already),
 * else reads Postgres and fills every layer. Meanwhile the stale entry keeps being served, but never
 * past MAX_AGE_MS: then reads wait for Postgres like any miss. That is how SWR and the 5 s bound meet.
 */
function revalidate(ctx: CatalogContext, scope: Scope, layers: Layers, key: string, load: Load, servedFrom: Source): void {
  if (scope.refreshing.has(key)) return;
  scope.refreshing.add(key);
  const refresh = async () => {
    const below: Array<[EdgeCache | GlobalStore | undefined, LayerGuard]> =
      servedFrom === "l0" ? [[layers.edge, scope.edgeGuard], [layers.global, scope.globalGuard]]
      : servedFrom === "cache-api" ? [[layers.global, scope.globalGuard]]
      : [];
    for (const [layer, guard] of below) {
      const found = await lookup(layer, guard, key);
      if (found && freshnessOf(found) === "fresh") {
        scope.memory.set(key, found);
        if (layer !== layers.edge) write(ctx, layers.edge, scope.edgeGuard, key, found);
        return;
      }
    }
    store(ctx, scope, layers, key, await loadEntry(scope, load));
  };
  const done = refresh()
    .catch((err: unknown) => {
      // Gone from the catalog (changed in the database behind the API's back): stop serving the copy.
      if (err instanceof ApiError) scope.memory.delete(key);
      else warnThrottled("catalog-refresh", "catalog cache refresh failed; the stale entry is served until it expires", { key, ...errorFields(err) });
    })
    .finally(() => scope.refreshing.delete(key));
  ctx.waitUntil(done);
}

/** The youngest entry seen so far that stale-if-error could serve. */
type Found = { fallback: CacheEntry | undefined };

/**
 * An entry from one layer below L0 that may still be served, counted per layer; a failing layer is a
 * miss (and noted in the request's `degraded`). An entry only good for stale-if-error goes to `found`.
 */
async function lookup(layer: EdgeCache | GlobalStore | undefined, guard: LayerGuard, key: string, found?: Found): Promise<CacheEntry | undefined> {
  if (!layer) return undefined;
  if (!guard.available) {
    recordDegraded(guard.dependency);
    return undefined;
  }
  const started = performance.now();
  let entry: CacheEntry | undefined;
  try {
    entry = await guard.run("get", () => layer.get(key));
  } catch {
    entry = undefined;
  }
  const usable = entry && freshnessOf(entry) !== "expired" ? entry : undefined;
  recordCacheLookup(layer.layer, usable !== undefined, performance.now() - started);
  if (found && entry && servableIfError(entry) && (!found.fallback || entry.storedAt > found.fallback.storedAt)) found.fallback = entry;
  return usable;
}

/** A fresh entry into every layer: L0 now, the others in the background. */
function store(ctx: CatalogContext, scope: Scope, layers: Layers, key: string, entry: CacheEntry): void {
  scope.memory.set(key, entry);
  write(ctx, layers.edge, scope.edgeGuard, key, entry);
  write(ctx, layers.global, scope.globalGuard, key, entry);
}

function write(ctx: CatalogContext, layer: EdgeCache | GlobalStore | undefined, guard: LayerGuard, key: string, entry: CacheEntry): void {
  if (!layer || !guard.available) return;
  ctx.waitUntil(guard.run("put", () => layer.put(key, entry)).catch(() => {}));
}

/**
 * Reads Postgres; the entry's time is taken before the query, so its age never understates how old
 * the data is. Notes whether Postgres answered (any answer, a 404 too) or is failing.
 */
async function loadEntry(scope: Scope, load: Load): Promise<CacheEntry> {
  const storedAt = Date.now();
  let data: unknown;
  try {
    data = await load();
  } catch (err) {
    scope.databaseFailingUntil = isDatabaseUnavailable(err) ? Date.now() + RETRY_AFTER_MS : 0;
    throw err;
  }
  scope.databaseFailingUntil = 0;
  return createEntry(JSON.stringify(data), storedAt);
}

/**
 * Makes every cached catalog read stale at once: bumps the catalog version (Redis INCR, or the
 * cache_versions row in Postgres with KV alone) and empties this isolate's L0. Admin product writes
 * call it after their change is committed and before they answer, so the next read through this
 * isolate is exact and every other isolate's within VERSION_TTL_MS (1 s).
 *
 * Anyone else who changes what catalog reads show and needs it visible before the 5 s age bound can
 * call it too, e.g. `await invalidateCatalog({ env: c.env, db: c.get("db") })`. It costs every
 * location one refill per key, so it is not meant for every order: stock changes are covered by the
 * 5 s bound without any call.
 *
 * Never throws: when the version store fails, the write stands, this isolate's L0 is emptied and
 * other isolates may serve the previous catalog until entries age out (MAX_AGE_MS). Returns the new
 * version, or undefined when the bump failed.
 */
export async function invalidateCatalog(target: { env: Env; db: Database }): Promise<number | undefined> {
  const scope = scopeFor(target.env);
  scope.memory.clear();
  const layers = layersFor(scope, target.env, target.db, undefined, BUMP_TIMEOUT_MS);
  try {
    return await scope.version.bump(layers.versions, scope.versionGuard);
  } catch (err) {
    log("error", "catalog version bump failed: other isolates may serve the previous catalog for up to 5 s", {
      layer: scope.versionGuard.layer,
      ...errorFields(err),
    });
    return undefined;
  } finally {
    scope.memory.clear();
  }
}

/** Empties this isolate's L0 for the deployment's scope (tests use it to reach the layers below). */
export function clearCatalogMemory(env: Env): void {
  scopeFor(env).memory.clear();
}
