import type { Database } from "../db/client";
import { isDatabaseUnavailable } from "../db/resilience";
import { errorFields } from "../observability/logging";
import { warnThrottled } from "../observability/logging";
import { EdgeCache } from "./edge-cache";
import type { CacheEntry } from "./entry";
import { KvStore, RedisStore, type GlobalStore } from "./global-store";
import { cacheNamespace, type CatalogResource } from "./keys";
import { MemoryCache, type MemoryRecord } from "./memory";
import { MEMORY_MAX_BYTES, MEMORY_MAX_ENTRIES, RETRY_AFTER_MS } from "./policy";
import { createRedis, usesRedis } from "./redis";
import { LayerGuard } from "./resilience";
import { SingleFlight } from "./single-flight";
import { StockView, type StockTracking } from "./stock-view";
import { PostgresVersionSource, RedisVersionSource, VersionCache, type VersionSource } from "./versions";

/**
 * Where the catalog cache keeps its state, and how a request reaches the layers below L0:
 *   - a CatalogScope is everything one isolate keeps for one cache scope (backend + namespace): L0,
 *     the stock view, the version, the single-flight loads and the layers' guards. One per deployment
 *     in production, several in tests, found from the env with `scopeFor`;
 *   - CatalogLayers are one request's clients of the layers below L0 (the version store, the Cache
 *     API, the global store), made on first use, so an L0 hit makes none. No I/O object is shared
 *     between requests; what must outlive a request (guards, versions) is the scope's.
 */

/** An L0 record of the catalog cache. */
export type Held = MemoryRecord<StockTracking>;

/** Which layer answered a read below L0 (or that stale-if-error did). */
export type Source = "l0" | "cache-api" | "kv" | "redis" | "postgres" | "stale-if-error";

/** What one load of a key below L0 found: shared by every request that waited for it (single-flight). */
export type Filled = { entry: CacheEntry; source: Source; record?: Held | undefined; bytes?: Uint8Array<ArrayBuffer> | undefined };

/** Everything this isolate keeps for one cache scope (backend + namespace): one in production, several in tests. */
export class CatalogScope {
  /** L0, keyed by resource: it only ever holds entries of `memoryVersion`. */
  readonly memory = new MemoryCache<StockTracking>(MEMORY_MAX_ENTRIES, MEMORY_MAX_BYTES);
  readonly stock = new StockView(this.memory);
  /** The catalog version L0 holds entries of; another version empties it first. */
  memoryVersion: number | undefined;
  readonly version = new VersionCache();
  readonly loads = new SingleFlight<Filled>();
  /** Keys with a background refresh under way (one per key at a time). */
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

  /** The version's part of entry keys: the backend's letter too, since KV and Redis count versions apart. */
  versionTag(version: number): string {
    return `${this.redis ? "vr" : "vp"}${version}`;
  }

  /** Whether Postgres failed a load within RETRY_AFTER_MS (and has not answered since). */
  get databaseFailing(): boolean {
    return Date.now() < this.databaseFailingUntil;
  }

  /** This isolate's copy of `resource` for stale-if-error, if L0 holds entries of that version. */
  fallbackFor(resource: CatalogResource, version: number): CacheEntry | undefined {
    return this.memoryVersion === version ? this.memory.getIfError(resource) : undefined;
  }

  /**
   * Starts the stock view's refresh if a read of `record` needs one, in the background (`db` is made
   * only then); notes whether Postgres answered it.
   */
  refreshStock(record: Held, db: () => Database, waitUntil: (promise: Promise<unknown>) => void, now: number): void {
    const run = this.stock.refreshFor(record, db, now);
    if (!run) return;
    waitUntil(
      run.then(
        () => {
          this.databaseFailingUntil = 0;
        },
        (err: unknown) => {
          if (isDatabaseUnavailable(err)) this.databaseFailingUntil = Date.now() + RETRY_AFTER_MS;
          warnThrottled(
            "catalog-stock-refresh",
            "catalog stock refresh failed; cached lists and products age until they are loaded again",
            errorFields(err),
          );
        },
      ),
    );
  }
}

const MAX_SCOPES = 32;
const scopes = new Map<string, CatalogScope>();
/** A deployment's env is one object for the isolate's life: its scope is found without rebuilding the id. */
const scopeOfEnv = new WeakMap<Env, CatalogScope>();

/** The scope of a deployment's env: made on first use, at most MAX_SCOPES per isolate (the oldest goes). */
export function scopeFor(env: Env): CatalogScope {
  const known = scopeOfEnv.get(env);
  if (known && scopes.get(known.id) === known) return known;
  const namespace = cacheNamespace(env);
  const redis = usesRedis(env);
  const id = redis ? `upstash ${env.UPSTASH_REDIS_REST_URL} ${namespace}` : `kv ${namespace}`;
  let scope = scopes.get(id);
  if (!scope) {
    if (scopes.size >= MAX_SCOPES) scopes.delete(scopes.keys().next().value!);
    scope = new CatalogScope(id, namespace, redis);
    scopes.set(id, scope);
  }
  scopeOfEnv.set(env, scope);
  return scope;
}

/** A layer below L0: this request's client, and the scope's guard that skips it while it fails. */
export type GuardedLayer<Client extends EdgeCache | GlobalStore = EdgeCache | GlobalStore> = {
  readonly client: Client;
  readonly guard: LayerGuard;
};

/** What the layers of one request are made from. */
export type LayerOptions = {
  env: Env;
  db: Database;
  /** The Worker's origin, for Cache API keys; none: the Cache API is not used. Called only when it is. */
  origin?: () => string;
  /** The bound of one Redis call. */
  timeoutMs: number;
};

/**
 * One request's handles on the layers below L0, each made on first use (an L0 hit makes none).
 * Clients are per request: no I/O object is shared between requests.
 */
export class CatalogLayers {
  private redisClient: ReturnType<typeof createRedis> | undefined;
  private versionSource: VersionSource | undefined;
  private edgeLayer: GuardedLayer<EdgeCache> | undefined | null;
  private globalLayer: GuardedLayer<GlobalStore> | undefined;

  constructor(
    private readonly scope: CatalogScope,
    private readonly options: LayerOptions,
  ) {}

  /** Where the catalog version lives: Redis with Upstash, else the cache_versions row in Postgres. */
  get versions(): VersionSource {
    return (this.versionSource ??= this.scope.redis
      ? new RedisVersionSource(this.redis(), `${this.scope.namespace}:version`)
      : new PostgresVersionSource(this.options.db, this.scope.namespace));
  }

  /** L1, the Cache API of this location; none where it is not available or without an origin. */
  get edge(): GuardedLayer<EdgeCache> | undefined {
    if (this.edgeLayer === undefined) {
      const { origin } = this.options;
      this.edgeLayer = origin && EdgeCache.available() ? { client: new EdgeCache(origin()), guard: this.scope.edgeGuard } : null;
    }
    return this.edgeLayer ?? undefined;
  }

  /** L2, the global store: Upstash Redis or KV, as CACHE_BACKEND says. */
  get global(): GuardedLayer<GlobalStore> {
    return (this.globalLayer ??= {
      client: this.scope.redis ? new RedisStore(this.redis()) : new KvStore(this.options.env.CATALOG_KV),
      guard: this.scope.globalGuard,
    });
  }

  private redis(): ReturnType<typeof createRedis> {
    return (this.redisClient ??= createRedis(this.options.env, {
      retries: 0,
      timeoutMs: this.options.timeoutMs,
      automaticDeserialization: false,
    }));
  }
}
