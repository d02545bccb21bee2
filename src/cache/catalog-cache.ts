import type { Database } from "../db/client";
import { isDatabaseUnavailable } from "../db/resilience";
import { ApiError } from "../errors";
import { errorFields, log, warnThrottled } from "../observability/logging";
import { recordCacheLookup, recordDegraded, type CacheStatus } from "../observability/request-stats";
import { EdgeCache } from "./edge-cache";
import { ageOf, freshnessOf, remainingSeconds, renderEntry, servableIfError, type CacheEntry, type RenderedEntry } from "./entry";
import { KvStore, RedisStore, type GlobalStore } from "./global-store";
import { cacheNamespace, entryKey, type CatalogResource } from "./keys";
import { dataAgeOf, MemoryCache, type MemoryRecord } from "./memory";
import {
  BUMP_TIMEOUT_MS,
  CALL_TIMEOUT_MS,
  FRESH_MS,
  MAX_AGE_MS,
  MEMORY_MAX_BYTES,
  MEMORY_MAX_ENTRIES,
  RETRY_AFTER_MS,
  STALE_IF_ERROR_MS,
} from "./policy";
import type { Reach } from "./reach";
import { createRedis, usesRedis } from "./redis";
import { LayerGuard } from "./resilience";
import { SingleFlight } from "./single-flight";
import { StockView, trackStock, type StockShape, type StockTracking } from "./stock-view";
import { PostgresVersionSource, RedisVersionSource, VersionCache, type VersionSource } from "./versions";

/**
 * The catalog's read-through cache: L0 isolate memory → L1 Cache API (per location) → L2 KV or
 * Redis (global) → Postgres, under versioned keys (keys.ts, versions.ts), with the age rules of
 * policy.ts; in L0, product lists and details are kept current by the stock view (stock-view.ts)
 * instead of being reloaded. See README "Catalog cache" for the whole picture and its bounds.
 */

/** What a read needs from the request: bindings, the database, the Worker's origin (Cache API keys) and waitUntil. */
export type CatalogContext = {
  env: Env;
  db: Database;
  /** Read only when the Cache API is: a getter may compute it then. */
  origin: string;
  waitUntil: (promise: Promise<unknown>) => void;
};

/**
 * What keeps a read's entry current in L0 once loaded (memory.ts `Keeping`):
 *   - a StockShape: the stock view re-checks the stock of the products the body shows (lists, details);
 *   - "version": nothing in it changes without an admin write (categories);
 *   - "age" (the default): nothing; served by the age of its data, as in the layers below.
 */
export type ReadKeeping = StockShape | "version" | "age";

export type CatalogRead = {
  entry: CacheEntry;
  status: CacheStatus;
  /** Whole seconds a downstream cache may keep it without breaking the 5 s bound (Cache-Control max-age). */
  maxAge: number;
  /** entry.body encoded, when it was made already (an L0 entry's, made once per entry). */
  bytes?: Uint8Array<ArrayBuffer>;
};

type Source = "l0" | "cache-api" | "kv" | "redis" | "postgres" | "stale-if-error";
type Filled = { entry: CacheEntry; source: Source; record?: Held | undefined; bytes?: Uint8Array<ArrayBuffer> | undefined };
type Load = () => Promise<unknown>;
type Held = MemoryRecord<StockTracking>;

/** Everything this isolate keeps for one cache scope (backend + namespace): one in production, several in tests. */
class Scope {
  /** L0, keyed by resource: it only ever holds entries of `memoryVersion`. */
  readonly memory = new MemoryCache<StockTracking>(MEMORY_MAX_ENTRIES, MEMORY_MAX_BYTES);
  readonly stock = new StockView(this.memory);
  /** The catalog version L0 holds entries of; another version empties it first. */
  memoryVersion: number | undefined;
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
    readonly id: string,
    readonly namespace: string,
    readonly redis: boolean,
  ) {
    this.versionGuard = new LayerGuard(redis ? "versions-redis" : "versions-postgres");
    this.globalGuard = new LayerGuard(redis ? "redis" : "kv");
  }

  /** Empties L0 and forgets the stock view's refreshes; L0 then takes entries of `version` only. */
  forget(version: number | undefined): void {
    this.memory.clear();
    this.stock.clear();
    this.memoryVersion = version;
  }
}

const MAX_SCOPES = 32;
const scopes = new Map<string, Scope>();
/** A deployment's env is one object for the isolate's life: its scope is found without rebuilding the id. */
const scopeOfEnv = new WeakMap<Env, Scope>();

function scopeFor(env: Env): Scope {
  const known = scopeOfEnv.get(env);
  if (known && scopes.get(known.id) === known) return known;
  const namespace = cacheNamespace(env);
  const redis = usesRedis(env);
  const id = redis ? `upstash ${env.UPSTASH_REDIS_REST_URL} ${namespace}` : `kv ${namespace}`;
  let scope = scopes.get(id);
  if (!scope) {
    if (scopes.size >= MAX_SCOPES) scopes.delete(scopes.keys().next().value!);
    scope = new Scope(id, namespace, redis);
    scopes.set(id, scope);
  }
  scopeOfEnv.set(env, scope);
  return scope;
}

/**
 * The request's handles on the layers below L0, made on first use (an L0 hit makes none). Clients are
 * per request: no I/O object is shared between requests.
 */
type Layers = { readonly versions: VersionSource; readonly edge?: EdgeCache; readonly global: GlobalStore };

function layersFor(scope: Scope, env: Env, db: Database, originOf: (() => string) | undefined, timeoutMs: number): Layers {
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
      if (edge === undefined) edge = originOf && EdgeCache.available() ? new EdgeCache(originOf()) : null;
      return edge ?? undefined;
    },
    get global() {
      return (global ??= scope.redis ? new RedisStore(redisClient()) : new KvStore(env.CATALOG_KV));
    },
  };
}

/** One read's state below the hot path: the scope, the layers (made when first needed) and what it reads. */
class Read {
  private made: Layers | undefined;

  constructor(
    readonly ctx: CatalogContext,
    readonly scope: Scope,
    readonly resource: CatalogResource,
    readonly load: Load,
    readonly keeping: ReadKeeping,
    readonly reach: Reach,
  ) {}

  get layers(): Layers {
    return (this.made ??= layersFor(this.scope, this.ctx.env, this.ctx.db, () => this.ctx.origin, CALL_TIMEOUT_MS));
  }

  /** The global store, for a shared read; none for a long-tail one, which is never looked up or written there. */
  get global(): GlobalStore | undefined {
    return this.reach === "shared" ? this.layers.global : undefined;
  }
}

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
  const read = new Read(ctx, scope, resource, load, keeping, reach);
  const version = await scope.version.current(() => read.layers.versions, scope.versionGuard);
  if (version === undefined) return bypass(read);
  if (scope.memoryVersion !== version) scope.forget(version); // another isolate's admin write: none of L0 is current

  const now = Date.now();
  const held = scope.memory.lookup(resource, now);
  // No timing for L0: a Map lookup, and the Workers clock does not move during synchronous code anyway.
  recordCacheLookup("l0", held !== undefined);
  if (held) return fromMemory(read, held, now);

  const key = await entryKey(scope.namespace, versionTag(scope, version), resource);
  const { value } = await scope.loads.run(key, () => fill(read, key, version), ctx.waitUntil);
  if (value.source === "postgres") return { entry: value.entry, status: "MISS", maxAge: remainingSeconds(value.entry), bytes: value.bytes };
  if (value.source === "stale-if-error") return staleIfError(value.entry);
  return served(read, key, version, value);
}

/** What the hot path serves: an L0 HIT with its max-age and, made once per entry, its bytes. */
export type MemoryHit = { entry: CacheEntry; maxAge: number; bytes?: Uint8Array<ArrayBuffer> };

/**
 * The L0 HIT of `resource` right now without any I/O, exactly as readCatalog would answer it (the
 * version needs no re-read and is the one L0 holds; the entry's data is younger than FRESH_MS); else
 * undefined, and the read takes the app's path. Like an L0 hit there, it marks the entry read and
 * starts the stock view's refresh when one is due (`db` is made only then). For hot-reads.ts.
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
  if (held.keeping === "stock") startStockRefresh(scope, db, waitUntil, held, now);
  return { entry: held.entry, maxAge: secondsLeft(age), bytes: held.bytes };
}

function versionTag(scope: Scope, version: number): string {
  return `${scope.redis ? "vr" : "vp"}${version}`;
}

/** Seconds left of MAX_AGE_MS for data this old. */
function secondsLeft(ageMs: number): number {
  return Math.max(0, Math.floor((MAX_AGE_MS - ageMs) / 1000));
}

/**
 * An L0 entry: HIT or STALE by its data age. One the stock view keeps starts the view's refresh when
 * due (no per-key refresh); one kept by age alone starts its own refresh when stale, as below L0.
 */
function fromMemory(read: Read, held: Held, now: number): CatalogRead {
  held.readAt = now;
  const age = dataAgeOf(held, now);
  const status: CacheStatus = age < FRESH_MS ? "HIT" : "STALE";
  if (held.keeping === "stock") refreshStock(read, held, now);
  else if (status === "STALE") {
    const { scope, ctx } = read;
    const version = scope.memoryVersion!;
    // Not awaited: the key (hashed when long) is only needed by the refresh, not by this answer.
    ctx.waitUntil(entryKey(scope.namespace, versionTag(scope, version), read.resource).then((key) => revalidate(read, key, version, "l0")));
  }
  return { entry: held.entry, status, maxAge: secondsLeft(age), bytes: held.bytes };
}

/** Starts the stock view's refresh if a read of `record` needs one, in the background; notes what Postgres did. */
function refreshStock(read: Read, record: Held, now: number): void {
  startStockRefresh(read.scope, () => read.ctx.db, read.ctx.waitUntil, record, now);
}

function startStockRefresh(scope: Scope, db: () => Database, waitUntil: (promise: Promise<unknown>) => void, record: Held, now: number): void {
  const run = scope.stock.refreshFor(record, db, now);
  if (!run) return;
  waitUntil(
    run.then(
      () => {
        scope.databaseFailingUntil = 0;
      },
      (err: unknown) => {
        if (isDatabaseUnavailable(err)) scope.databaseFailingUntil = Date.now() + RETRY_AFTER_MS;
        warnThrottled("catalog-stock-refresh", "catalog stock refresh failed; cached lists and products age until they are loaded again", errorFields(err));
      },
    ),
  );
}

/**
 * The version store did not answer: Postgres, exact (BYPASS). Should Postgres fail too (with KV alone
 * the version lives there), the entries of the version this isolate knew last may still be served
 * stale-if-error: no admin write can bump it without the database.
 */
async function bypass(read: Read): Promise<CatalogRead> {
  const { ctx, scope, resource, load } = read;
  const last = scope.version.lastKnown;
  const fallback = async () => {
    if (last === undefined) return undefined;
    const key = await entryKey(scope.namespace, versionTag(scope, last), resource);
    const found: Found = { fallback: memoryFallback(scope, resource, last) };
    if (!found.fallback) await lookup(read.layers.edge, scope.edgeGuard, key, found);
    if (!found.fallback) await lookup(read.global, scope.globalGuard, key, found);
    return found.fallback;
  };
  const loadExact = () =>
    scope.loads.run(`bypass ${resource}`, async () => ({ ...(await loadEntry(scope, load)), source: "postgres" as const }), ctx.waitUntil);
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
    return { entry: value.entry, status: "BYPASS", maxAge: remainingSeconds(value.entry), bytes: value.bytes };
  } catch (err) {
    if (!isDatabaseUnavailable(err)) throw err;
    const stale = await fallback();
    if (!stale) throw err;
    return staleIfError(stale);
  }
}

/** This isolate's copy for stale-if-error, if L0 holds entries of that version. */
function memoryFallback(scope: Scope, resource: CatalogResource, version: number): CacheEntry | undefined {
  return scope.memoryVersion === version ? scope.memory.getIfError(resource) : undefined;
}

/** A read answered with an expired entry because Postgres is not answering: STALE, noted and logged (throttled). */
function staleIfError(entry: CacheEntry): CatalogRead {
  recordDegraded("db");
  warnThrottled("catalog-stale-if-error", "catalog reads served stale-if-error: the database is not answering", {
    age_ms: ageOf(entry),
    stale_if_error_ms: STALE_IF_ERROR_MS,
  });
  return { entry, status: "STALE", maxAge: 0 };
}

function databaseFailing(scope: Scope): boolean {
  return Date.now() < scope.databaseFailingUntil;
}

/**
 * HIT or STALE for an entry found below L0 (by its storedAt). A stale one is made current by the
 * stock view when L0 took it and the view keeps it, needs nothing when L0 keeps it until the version
 * changes, and otherwise starts its own background refresh.
 */
function served(read: Read, key: string, version: number, found: Filled): CatalogRead {
  const now = Date.now();
  const result: CatalogRead = { entry: found.entry, status: "HIT", maxAge: remainingSeconds(found.entry, now), bytes: found.record?.bytes };
  if (freshnessOf(found.entry, now) === "fresh") return result;
  const record = found.record && read.scope.memory.holds(found.record) ? found.record : undefined;
  if (record?.keeping === "stock") refreshStock(read, record, now);
  else if (record?.keeping !== "version") revalidate(read, key, version, found.source);
  return { ...result, status: "STALE" };
}

/**
 * Below L0: the Cache API, then the global store, then Postgres; whatever answers fills the layers
 * above it. When Postgres does not answer, the youngest expired entry any layer still holds within
 * STALE_IF_ERROR_MS is the answer (stale-if-error); while Postgres is known to be failing, that
 * entry is served without waiting for it, and one background refresh per key tries Postgres again.
 */
async function fill(read: Read, key: string, version: number): Promise<Filled> {
  const { scope, layers } = read;
  const found: Found = { fallback: memoryFallback(scope, read.resource, version), notBefore: scope.memory.notBefore(read.resource) };
  const fromEdge = await lookup(layers.edge, scope.edgeGuard, key, found);
  if (fromEdge) return { entry: fromEdge, source: "cache-api", record: remember(read, version, { entry: fromEdge }) };
  const global = read.global;
  const fromGlobal = await lookup(global, scope.globalGuard, key, found);
  if (fromGlobal && global) {
    const record = remember(read, version, { entry: fromGlobal });
    write(read.ctx, layers.edge, scope.edgeGuard, key, fromGlobal);
    return { entry: fromGlobal, source: global.layer, record };
  }
  if (found.fallback && databaseFailing(scope)) {
    revalidate(read, key, version, "stale-if-error");
    return { entry: found.fallback, source: "stale-if-error" };
  }
  let rendered: RenderedEntry;
  try {
    rendered = await loadEntry(scope, read.load);
  } catch (err) {
    if (found.fallback && isDatabaseUnavailable(err)) return { entry: found.fallback, source: "stale-if-error" };
    throw err;
  }
  const record = store(read, key, version, rendered);
  return { ...rendered, source: "postgres", record };
}

/**
 * Stale-while-revalidate for entries nothing else keeps current, done here because the Cache API
 * ignores the directive: one refresh per key per isolate at a time, in the background (waitUntil).
 * It takes a fresh entry from a layer below the one that served the stale one (another isolate or
 * location may have refreshed it already), else reads Postgres and fills every layer. Meanwhile the
 * stale entry keeps being served, but never past MAX_AGE_MS: then reads wait for Postgres like any
 * miss. That is how SWR and the 5 s bound meet. L0 entries the stock view keeps never come here.
 */
function revalidate(read: Read, key: string, version: number, servedFrom: Source): void {
  const { ctx, scope } = read;
  if (scope.refreshing.has(key)) return;
  scope.refreshing.add(key);
  const refresh = async () => {
    const layers = read.layers;
    const below: Array<[EdgeCache | GlobalStore | undefined, LayerGuard]> =
      servedFrom === "l0" ? [[layers.edge, scope.edgeGuard], [read.global, scope.globalGuard]]
      : servedFrom === "cache-api" ? [[read.global, scope.globalGuard]]
      : [];
    for (const [layer, guard] of below) {
      const found = await lookup(layer, guard, key);
      if (found && freshnessOf(found) === "fresh") {
        remember(read, version, { entry: found });
        if (layer !== layers.edge) write(ctx, layers.edge, scope.edgeGuard, key, found);
        return;
      }
    }
    store(read, key, version, await loadEntry(scope, read.load));
  };
  const done = refresh()
    .catch((err: unknown) => {
      // Gone from the catalog (changed in the database behind the API's back): stop serving the copy.
      if (err instanceof ApiError) {
        if (scope.memoryVersion === version) scope.memory.delete(read.resource);
      } else warnThrottled("catalog-refresh", "catalog cache refresh failed; the stale entry is served until it expires", { key, ...errorFields(err) });
    })
    .finally(() => scope.refreshing.delete(key));
  ctx.waitUntil(done);
}

/**
 * The youngest entry seen so far that stale-if-error could serve; and entries stored before
 * `notBefore` are not served otherwise (the stock view found a product they show gone).
 */
type Found = { fallback: CacheEntry | undefined; notBefore?: number };

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
  const usable = entry && freshnessOf(entry) !== "expired" && entry.storedAt >= (found?.notBefore ?? 0) ? entry : undefined;
  recordCacheLookup(layer.layer, usable !== undefined, performance.now() - started);
  if (found && entry && servableIfError(entry) && (!found.fallback || entry.storedAt > found.fallback.storedAt)) found.fallback = entry;
  return usable;
}

/**
 * Into L0, kept as the read declares (a body of another shape than its StockShape expects is kept by
 * age). Only while L0 holds the version the entry was read under: a load that was under way when
 * the version changed must not come back as current. Returns the record, or undefined if not taken.
 */
function remember(read: Read, version: number, rendered: { entry: CacheEntry; bytes?: Uint8Array<ArrayBuffer> }): Held | undefined {
  const { scope, keeping } = read;
  if (scope.memoryVersion !== version) return undefined;
  const tracking = typeof keeping === "object" ? trackStock(rendered.entry.body, keeping) : undefined;
  return scope.memory.set(read.resource, rendered.entry, {
    keeping: tracking ? "stock" : keeping === "version" ? "version" : "age",
    stock: tracking,
    bytes: rendered.bytes,
  });
}

/** A fresh entry into every layer the read uses: L0 now, the others in the background. */
function store(read: Read, key: string, version: number, rendered: RenderedEntry): Held | undefined {
  const record = remember(read, version, rendered);
  write(read.ctx, read.layers.edge, read.scope.edgeGuard, key, rendered.entry);
  write(read.ctx, read.global, read.scope.globalGuard, key, rendered.entry);
  return record;
}

function write(ctx: CatalogContext, layer: EdgeCache | GlobalStore | undefined, guard: LayerGuard, key: string, entry: CacheEntry): void {
  if (!layer || !guard.available) return;
  ctx.waitUntil(guard.run("put", () => layer.put(key, entry)).catch(() => {}));
}

/**
 * Reads Postgres; the entry's time is taken before the query, so its age never understates how old
 * the data is. Notes whether Postgres answered (any answer, a 404 too) or is failing.
 */
async function loadEntry(scope: Scope, load: Load): Promise<RenderedEntry> {
  const storedAt = Date.now();
  let data: unknown;
  try {
    data = await load();
  } catch (err) {
    scope.databaseFailingUntil = isDatabaseUnavailable(err) ? Date.now() + RETRY_AFTER_MS : 0;
    throw err;
  }
  scope.databaseFailingUntil = 0;
  return renderEntry(JSON.stringify(data), storedAt);
}

/**
 * Makes every cached catalog read stale at once: bumps the catalog version (Redis INCR, or the
 * cache_versions row in Postgres with KV alone) and empties this isolate's L0. Admin product writes
 * call it after their change is committed and before they answer, so the next read through this
 * isolate is exact and every other isolate's within VERSION_TTL_MS (1 s).
 *
 * Anyone else who changes what catalog reads show, other than stock, and needs it visible before
 * MEMORY_MAX_LIFETIME_MS can call it too, e.g. `await invalidateCatalog({ env: c.env, db: c.get("db") })`.
 * It costs every location one refill per key, so it is not meant for every order: stock changes are
 * covered by the stock view and the 5 s bound without any call.
 *
 * Never throws: when the version store fails, the write stands, this isolate's L0 is emptied, and
 * other isolates may serve the previous catalog: a list or detail showing the product written until
 * their next stock check sees its updated_at move (about a second; if the write changed its stock
 * too, the check takes that and the rest waits), anything else (a new product in a list, a category
 * count) until MEMORY_MAX_LIFETIME_MS. Returns the new version, or undefined when the bump failed.
 */
export async function invalidateCatalog(target: { env: Env; db: Database }): Promise<number | undefined> {
  const scope = scopeFor(target.env);
  scope.forget(undefined);
  const layers = layersFor(scope, target.env, target.db, undefined, BUMP_TIMEOUT_MS);
  try {
    return await scope.version.bump(layers.versions, scope.versionGuard);
  } catch (err) {
    log("error", "catalog version bump failed: other isolates may serve the previous catalog until their entries are checked or reloaded", {
      layer: scope.versionGuard.layer,
      ...errorFields(err),
    });
    return undefined;
  } finally {
    // Again: a load that was under way during the bump must not come back (L0 takes the next version read only).
    scope.forget(undefined);
  }
}

/** Empties this isolate's L0 (and its stock view) for the deployment's scope (tests use it to reach the layers below). */
export function clearCatalogMemory(env: Env): void {
  const scope = scopeFor(env);
  scope.forget(scope.memoryVersion);
}
