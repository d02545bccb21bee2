import type { Database } from "../db/client";
import { ApiError } from "../errors";
import { errorFields, log } from "../log";
import { recordCacheLookup, type CacheStatus } from "../middleware/request-stats";
import { EdgeCache } from "./edge-cache";
import { createEntry, freshnessOf, type CacheEntry } from "./entry";
import { KvStore, RedisStore, type GlobalStore } from "./global-store";
import { cacheNamespace, entryKey, type CatalogResource } from "./keys";
import { MemoryCache } from "./memory";
import { BUMP_TIMEOUT_MS, CALL_TIMEOUT_MS, MEMORY_MAX_BYTES, MEMORY_MAX_ENTRIES } from "./policy";
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

type Source = "l0" | "cache-api" | "kv" | "redis" | "postgres";
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

function scopeFor(env: Env): Scope {
  const namespace = cacheNamespace(env);
  const redis = usesRedis(env);
  const id = redis ? `upstash ${env.UPSTASH_REDIS_REST_URL} ${namespace}` : `kv ${namespace}`;
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
 * `load` throwing (e.g. 404) is passed on; errors are never cached.
 */
export async function readCatalog(ctx: CatalogContext, resource: CatalogResource, load: Load): Promise<CatalogRead> {
  const scope = scopeFor(ctx.env);
  const layers = layersFor(scope, ctx.env, ctx.db, ctx.origin, CALL_TIMEOUT_MS);
  const version = await scope.version.current(() => layers.versions, scope.versionGuard);
  if (version === undefined) {
    const { value } = await scope.loads.run(`bypass ${resource}`, async () => ({ entry: await loadEntry(load), source: "postgres" as const }), ctx.waitUntil);
    return { entry: value.entry, status: "BYPASS" };
  }

  const key = await entryKey(scope.namespace, `${scope.redis ? "vr" : "vp"}${version}`, resource);
  const started = performance.now();
  const held = scope.memory.get(key);
  recordCacheLookup("l0", held !== undefined, performance.now() - started);
  if (held) return served(ctx, scope, layers, key, load, { entry: held, source: "l0" });

  const { value } = await scope.loads.run(key, () => fill(ctx, scope, layers, key, load), ctx.waitUntil);
  if (value.source === "postgres") return { entry: value.entry, status: "MISS" };
  return served(ctx, scope, layers, key, load, value);
}

/** HIT or STALE for an entry found in a cache layer; a stale one also starts its refresh. */
function served(ctx: CatalogContext, scope: Scope, layers: Layers, key: string, load: Load, found: Filled): CatalogRead {
  if (freshnessOf(found.entry) === "fresh") return { entry: found.entry, status: "HIT" };
  revalidate(ctx, scope, layers, key, load, found.source);
  return { entry: found.entry, status: "STALE" };
}

/** Below L0: the Cache API, then the global store, then Postgres; whatever answers fills the layers above it. */
async function fill(ctx: CatalogContext, scope: Scope, layers: Layers, key: string, load: Load): Promise<Filled> {
  const fromEdge = await lookup(layers.edge, scope.edgeGuard, key);
  if (fromEdge) {
    scope.memory.set(key, fromEdge);
    return { entry: fromEdge, source: "cache-api" };
  }
  const fromGlobal = await lookup(layers.global, scope.globalGuard, key);
  if (fromGlobal) {
    scope.memory.set(key, fromGlobal);
    write(ctx, layers.edge, scope.edgeGuard, key, fromGlobal);
    return { entry: fromGlobal, source: layers.global.layer };
  }
  const entry = await loadEntry(load);
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
    store(ctx, scope, layers, key, await loadEntry(load));
  };
  const done = refresh()
    .catch((err: unknown) => {
      // Gone from the catalog (changed in the database behind the API's back): stop serving the copy.
      if (err instanceof ApiError) scope.memory.delete(key);
      else log("warn", "catalog cache refresh failed; the stale entry is served until it expires", { key, ...errorFields(err) });
    })
    .finally(() => scope.refreshing.delete(key));
  ctx.waitUntil(done);
}

/** An entry from one layer below L0 that may still be served, counted per layer; a failing layer is a miss. */
async function lookup(layer: EdgeCache | GlobalStore | undefined, guard: LayerGuard, key: string): Promise<CacheEntry | undefined> {
  if (!layer || !guard.available) return undefined;
  const started = performance.now();
  let entry: CacheEntry | undefined;
  try {
    entry = await guard.run("get", () => layer.get(key));
  } catch {
    entry = undefined;
  }
  const usable = entry && freshnessOf(entry) !== "expired" ? entry : undefined;
  recordCacheLookup(layer.layer, usable !== undefined, performance.now() - started);
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

/** Reads Postgres; the entry's time is taken before the query, so its age never understates how old the data is. */
async function loadEntry(load: Load): Promise<CacheEntry> {
  const storedAt = Date.now();
  const body = JSON.stringify(await load());
  return createEntry(body, storedAt);
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
