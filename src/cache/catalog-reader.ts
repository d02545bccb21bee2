import type { Database } from "../db/client";
import { isDatabaseUnavailable } from "../db/resilience";
import { ApiError } from "../errors";
import { errorFields } from "../observability/logging";
import { detachedFromRequest, recordCacheLookup, recordDegraded, type CacheStatus } from "../observability/request-stats";
import { warnThrottled } from "../observability/logging";
import { CatalogLayers, type CatalogScope, type Filled, type GuardedLayer, type Held, type Source } from "./catalog-scope";
import { ageOf, freshnessOf, remainingSeconds, renderEntry, servableIfError, type CacheEntry, type RenderedEntry } from "./entry";
import type { GlobalStore } from "./global-store";
import { entryKey, type CatalogResource } from "./keys";
import { dataAgeOf } from "./memory";
import { CALL_TIMEOUT_MS, FRESH_MS, MAX_AGE_MS, RETRY_AFTER_MS, STALE_IF_ERROR_MS } from "./policy";
import type { Reach } from "./reach";
import { trackStock, type StockShape } from "./stock-view";

/**
 * The read path of the catalog cache below the hot path: a CatalogReader is one read (its request,
 * scope and resource, and the layers it makes when it first needs them), and its methods are the
 * steps of the read: the version (currentVersion), an L0 entry (fromMemory), the version store
 * failing (bypass), the layers below L0 and Postgres (fromBelow, fill), HIT or STALE of what they
 * found (served), the background refresh (revalidate). readCatalog (catalog-cache.ts) makes one per
 * read and runs the steps in order; the hot path (peekMemoryHit) makes none.
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

/** Reads the data from Postgres (and throws its errors, a 404 too). */
export type Load = () => Promise<unknown>;

/**
 * The youngest entry seen so far that stale-if-error could serve; and entries stored before
 * `notBefore` are not served otherwise (the stock view found a product they show gone).
 */
type Found = { fallback: CacheEntry | undefined; notBefore?: number };

/** Seconds left of MAX_AGE_MS for data this old. */
export function secondsLeft(ageMs: number): number {
  return Math.max(0, Math.floor((MAX_AGE_MS - ageMs) / 1000));
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

/** One read of one catalog resource through the cache (see readCatalog in catalog-cache.ts for the rules). */
export class CatalogReader {
  private made: CatalogLayers | undefined;

  constructor(
    readonly ctx: CatalogContext,
    readonly scope: CatalogScope,
    readonly resource: CatalogResource,
    readonly load: Load,
    readonly keeping: ReadKeeping,
    readonly reach: Reach,
  ) {}

  /** This read's layers below L0, made on first use. */
  get layers(): CatalogLayers {
    return (this.made ??= new CatalogLayers(this.scope, {
      env: this.ctx.env,
      db: this.ctx.db,
      origin: () => this.ctx.origin,
      timeoutMs: CALL_TIMEOUT_MS,
    }));
  }

  /** The global store, for a shared read; none for a long-tail one, which is never looked up or written there. */
  get global(): GuardedLayer<GlobalStore> | undefined {
    return this.reach === "shared" ? this.layers.global : undefined;
  }

  /** The catalog version to read under: trusted for VERSION_TTL_MS, else asked of the version store; undefined when it cannot say. */
  currentVersion(): Promise<number | undefined> {
    return this.scope.version.current(() => this.layers.versions, this.scope.versionGuard);
  }

  /** The answer below L0: one load per key and isolate (fill), however many requests wait for it. */
  async fromBelow(version: number): Promise<CatalogRead> {
    const { scope, ctx } = this;
    const key = await entryKey(scope.namespace, scope.versionTag(version), this.resource);
    const { value } = await scope.loads.run(key, () => this.fill(key, version), ctx.waitUntil);
    if (value.source === "postgres")
      return { entry: value.entry, status: "MISS", maxAge: remainingSeconds(value.entry), bytes: value.bytes };
    if (value.source === "stale-if-error") return staleIfError(value.entry);
    return this.served(key, version, value);
  }

  /**
   * An L0 entry: HIT or STALE by its data age. One the stock view keeps starts the view's refresh when
   * due (no per-key refresh); one kept by age alone starts its own refresh when stale, as below L0.
   */
  fromMemory(held: Held, now: number): CatalogRead {
    held.readAt = now;
    const age = dataAgeOf(held, now);
    const status: CacheStatus = age < FRESH_MS ? "HIT" : "STALE";
    if (held.keeping === "stock") this.refreshStock(held, now);
    else if (status === "STALE") {
      const { scope, ctx } = this;
      const version = scope.memoryVersion!;
      // Not awaited: the key (hashed when long) is only needed by the refresh, not by this answer.
      ctx.waitUntil(entryKey(scope.namespace, scope.versionTag(version), this.resource).then((key) => this.revalidate(key, version, "l0")));
    }
    return { entry: held.entry, status, maxAge: secondsLeft(age), bytes: held.bytes };
  }

  /** Starts the stock view's refresh if a read of `record` needs one, in the background. */
  private refreshStock(record: Held, now: number): void {
    this.scope.refreshStock(record, () => this.ctx.db, this.ctx.waitUntil, now);
  }

  /**
   * The version store did not answer: Postgres, exact (BYPASS). Should Postgres fail too (with KV alone
   * the version lives there), the entries of the version this isolate knew last may still be served
   * stale-if-error: no admin write can bump it without the database.
   */
  async bypass(): Promise<CatalogRead> {
    const { ctx, scope, resource } = this;
    const last = scope.version.lastKnown;
    const fallback = async () => {
      if (last === undefined) return undefined;
      const key = await entryKey(scope.namespace, scope.versionTag(last), resource);
      const found: Found = { fallback: scope.fallbackFor(resource, last) };
      if (!found.fallback) await this.lookup(this.layers.edge, key, found);
      if (!found.fallback) await this.lookup(this.global, key, found);
      return found.fallback;
    };
    const loadExact = () =>
      scope.loads.run(`bypass ${resource}`, async () => ({ ...(await this.loadEntry()), source: "postgres" as const }), ctx.waitUntil);
    if (scope.databaseFailing) {
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

  /**
   * HIT or STALE for an entry found below L0 (by its storedAt). A stale one is made current by the
   * stock view when L0 took it and the view keeps it, needs nothing when L0 keeps it until the version
   * changes, and otherwise starts its own background refresh.
   */
  private served(key: string, version: number, found: Filled): CatalogRead {
    const now = Date.now();
    const result: CatalogRead = {
      entry: found.entry,
      status: "HIT",
      maxAge: remainingSeconds(found.entry, now),
      bytes: found.record?.bytes,
    };
    if (freshnessOf(found.entry, now) === "fresh") return result;
    const record = found.record && this.scope.memory.holds(found.record) ? found.record : undefined;
    if (record?.keeping === "stock") this.refreshStock(record, now);
    else if (record?.keeping !== "version") this.revalidate(key, version, found.source);
    return { ...result, status: "STALE" };
  }

  /**
   * Below L0: the Cache API, then the global store, then Postgres; whatever answers fills the layers
   * above it. When Postgres does not answer, the youngest expired entry any layer still holds within
   * STALE_IF_ERROR_MS is the answer (stale-if-error); while Postgres is known to be failing, that
   * entry is served without waiting for it, and one background refresh per key tries Postgres again.
   */
  private async fill(key: string, version: number): Promise<Filled> {
    const { scope, layers, resource } = this;
    const found: Found = { fallback: scope.fallbackFor(resource, version), notBefore: scope.memory.notBefore(resource) };
    const fromEdge = await this.lookup(layers.edge, key, found);
    if (fromEdge) return { entry: fromEdge, source: "cache-api", record: this.remember(version, { entry: fromEdge }) };
    const global = this.global;
    const fromGlobal = await this.lookup(global, key, found);
    if (fromGlobal && global) {
      const record = this.remember(version, { entry: fromGlobal });
      this.write(layers.edge, key, fromGlobal);
      return { entry: fromGlobal, source: global.client.layer, record };
    }
    if (found.fallback && scope.databaseFailing) {
      this.revalidate(key, version, "stale-if-error");
      return { entry: found.fallback, source: "stale-if-error" };
    }
    let rendered: RenderedEntry;
    try {
      rendered = await this.loadEntry();
    } catch (err) {
      if (found.fallback && isDatabaseUnavailable(err)) return { entry: found.fallback, source: "stale-if-error" };
      throw err;
    }
    const record = this.store(key, version, rendered);
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
  private revalidate(key: string, version: number, servedFrom: Source): void {
    const { ctx, scope } = this;
    if (scope.refreshing.has(key)) return;
    scope.refreshing.add(key);
    const refresh = async () => {
      const layers = this.layers;
      const below: Array<GuardedLayer | undefined> =
        servedFrom === "l0" ? [layers.edge, this.global] : servedFrom === "cache-api" ? [this.global] : [];
      for (const layer of below) {
        const found = await this.lookup(layer, key);
        if (found && freshnessOf(found) === "fresh") {
          this.remember(version, { entry: found });
          if (layer !== layers.edge) this.write(layers.edge, key, found);
          return;
        }
      }
      this.store(key, version, await this.loadEntry());
    };
    const done = refresh()
      .catch((err: unknown) => {
        // Gone from the catalog (changed in the database behind the API's back): stop serving the copy.
        if (err instanceof ApiError) {
          if (scope.memoryVersion === version) scope.memory.delete(this.resource);
        } else
          warnThrottled("catalog-refresh", "catalog cache refresh failed; the stale entry is served until it expires", {
            key,
            ...errorFields(err),
          });
      })
      .finally(() => scope.refreshing.delete(key));
    ctx.waitUntil(done);
  }

  /**
   * An entry from one layer below L0 that may still be served, counted per layer; a failing layer is a
   * miss (and noted in the request's `degraded`). An entry only good for stale-if-error goes to `found`.
   */
  private async lookup(layer: GuardedLayer | undefined, key: string, found?: Found): Promise<CacheEntry | undefined> {
    if (!layer) return undefined;
    const { client, guard } = layer;
    if (!guard.available) {
      recordDegraded(guard.dependency);
      return undefined;
    }
    const started = performance.now();
    let entry: CacheEntry | undefined;
    try {
      entry = await guard.run("get", () => client.get(key));
    } catch {
      entry = undefined;
    }
    const usable = entry && freshnessOf(entry) !== "expired" && entry.storedAt >= (found?.notBefore ?? 0) ? entry : undefined;
    recordCacheLookup(client.layer, usable !== undefined, performance.now() - started);
    if (found && entry && servableIfError(entry) && (!found.fallback || entry.storedAt > found.fallback.storedAt)) found.fallback = entry;
    return usable;
  }

  /**
   * Into L0, kept as the read declares (a body of another shape than its StockShape expects is kept by
   * age). Only while L0 holds the version the entry was read under: a load that was under way when
   * the version changed must not come back as current. Returns the record, or undefined if not taken.
   */
  private remember(version: number, rendered: { entry: CacheEntry; bytes?: Uint8Array<ArrayBuffer> }): Held | undefined {
    const { scope, keeping } = this;
    if (scope.memoryVersion !== version) return undefined;
    const tracking = typeof keeping === "object" ? trackStock(rendered.entry.body, keeping) : undefined;
    return scope.memory.set(this.resource, rendered.entry, {
      keeping: tracking ? "stock" : keeping === "version" ? "version" : "age",
      stock: tracking,
      bytes: rendered.bytes,
    });
  }

  /** A fresh entry into every layer the read uses: L0 now, the others in the background. */
  private store(key: string, version: number, rendered: RenderedEntry): Held | undefined {
    const record = this.remember(version, rendered);
    this.write(this.layers.edge, key, rendered.entry);
    this.write(this.global, key, rendered.entry);
    return record;
  }

  /**
   * Into one layer below L0, in the background; skipped while the layer is. Detached from the request's
   * stats: the response does not wait for the write, so its round trip is not the request's.
   */
  private write(layer: GuardedLayer | undefined, key: string, entry: CacheEntry): void {
    if (!layer?.guard.available) return;
    const { client, guard } = layer;
    this.ctx.waitUntil(detachedFromRequest(() => guard.run("put", () => client.put(key, entry))).catch(() => {}));
  }

  /**
   * Reads Postgres; the entry's time is taken before the query, so its age never understates how old
   * the data is. Notes whether Postgres answered (any answer, a 404 too) or is failing.
   */
  private async loadEntry(): Promise<RenderedEntry> {
    const { scope, load } = this;
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
}
