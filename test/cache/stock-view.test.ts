import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { invalidateCatalog, readCatalog, type CatalogContext, type ReadKeeping } from "../../src/cache/catalog-cache";
import { createRedis } from "../../src/cache/redis";
import {
  FRESH_MS,
  MAX_AGE_MS,
  MEMORY_MAX_LIFETIME_MS,
  STOCK_READ_WINDOW_MS,
  STOCK_REFRESH_MS,
  VERSION_TTL_MS,
} from "../../src/cache/policy";
import type { CurrentStock, StockShape } from "../../src/cache/stock-view";
import { RedisVersionSource } from "../../src/cache/versions";
import { ApiError } from "../../src/errors";
import { newRequestStats, withRequestStats } from "../../src/observability/request-stats";
import { db } from "../support/db";
import { newNamespace, stopClock } from "./helpers";

// The stock view on its own (README "Catalog cache"): L0 entries of lists and details live until the
// catalog version changes, and one statement a second keeps the stock they show current. Here the
// catalog is a fake under the test's control (its products, its loads, its stock statements), the
// cache layers are real (Redis for the version, the Cache API, Redis for entries), and time is this
// isolate's Date.now, moved by the test: ages are exact, nothing waits on the wall clock.

type Product = { id: number; name: string; stock: number; updated_at: string; deleted: boolean };
type Body = { id: number; name: string; stock: number; updated_at: string };

afterEach(() => vi.restoreAllMocks());

function fakeCatalog() {
  const clock = stopClock();
  const ctxEnv = { ...env, CACHE_BACKEND: "upstash", CACHE_NAMESPACE: newNamespace("stock-view") } as Env;
  const pending: Promise<unknown>[] = [];
  const context: CatalogContext = { env: ctxEnv, db, origin: "http://tenpo.localhost", waitUntil: (p) => void pending.push(p) };
  const products = new Map<number, Product>();
  const put = (id: number, change: Partial<Product> = {}) => {
    const held = products.get(id) ?? { id, name: `p${id}`, stock: 10, updated_at: new Date(clock.now).toISOString(), deleted: false };
    products.set(id, { ...held, ...change });
  };
  /** An order: stock and updated_at move together. */
  const order = (id: number, quantity = 1) => {
    const held = products.get(id)!;
    put(id, { stock: held.stock - quantity, updated_at: new Date(Date.parse(held.updated_at) + 1000).toISOString() });
  };

  let loads = 0;
  const statements: number[][] = [];
  let failure: Error | undefined;
  let gate: Promise<void> | undefined;
  const shape: StockShape = {
    productsIn: (data) => [data],
    read: async (_db, ids): Promise<CurrentStock[]> => {
      statements.push([...ids].sort((a, b) => a - b));
      await gate;
      if (failure) throw failure;
      return ids.flatMap((id) => {
        const p = products.get(id);
        return p ? [{ id, stock: p.stock, updated_at: p.updated_at, deleted: p.deleted }] : [];
      });
    },
  };
  const loadProduct = (id: number) => async (): Promise<Body> => {
    loads += 1;
    const p = products.get(id);
    if (!p || p.deleted) throw ApiError.notFound(`Product ${id} not found`);
    return { id, name: p.name, stock: p.stock, updated_at: p.updated_at };
  };

  /** One read of a product detail, with its request stats; the background work it started is left running. */
  const read = async (id: number, keeping: ReadKeeping = shape) => {
    const stats = newRequestStats();
    const result = await withRequestStats(stats, () => readCatalog(context, `product/${id}`, loadProduct(id), keeping));
    return { ...result, body: JSON.parse(result.entry.body) as Body, stats };
  };
  /** Lets the background work (layer writes, stock refreshes) finish. */
  const settle = async () => {
    while (pending.length > 0) await Promise.allSettled(pending.splice(0));
  };
  /** A read, then its background work: as a request through waitUntil, with an instant database. */
  const readSettled = async (id: number, keeping?: ReadKeeping) => {
    const result = await read(id, keeping);
    await settle();
    return result;
  };
  let release: () => void = () => {};
  return {
    clock,
    env: ctxEnv,
    put,
    order,
    remove: (id: number) => put(id, { deleted: true }),
    vanish: (id: number) => products.delete(id),
    product: (id: number) => products.get(id)!,
    read,
    readSettled,
    settle,
    loads: () => loads,
    statements,
    failWith: (err: Error | undefined) => (failure = err),
    /** Stock statements wait until `open()`: a refresh in flight. */
    hold: () => {
      gate = new Promise((resolve) => (release = resolve));
    },
    open: () => {
      gate = undefined;
      release();
    },
  };
}

describe("an L0 product entry kept by the stock view", () => {
  it("is HIT while its last stock check is younger than FRESH_MS, STALE until MAX_AGE_MS while the one refresh runs, and never served from L0 at MAX_AGE_MS", async () => {
    const t = fakeCatalog();
    t.put(1);
    expect((await t.readSettled(1)).status).toBe("MISS");

    t.hold(); // the database is slow from now on
    t.clock.advance(STOCK_REFRESH_MS);
    const due = await t.read(1);
    expect(due).toMatchObject({ status: "HIT", maxAge: 4 });
    expect(t.statements).toHaveLength(1);

    t.clock.advance(FRESH_MS - STOCK_REFRESH_MS);
    const stale = await Promise.all(Array.from({ length: 10 }, () => t.read(1)));
    expect(stale.map((r) => r.status)).toEqual(Array(10).fill("STALE"));
    expect(stale[0]!.maxAge).toBe(3);
    expect(stale[0]!.stats.cacheLayers).toEqual({ l0: { hits: 1, misses: 0 } });
    expect(t.statements).toHaveLength(1); // one refresh in flight at a time, however many reads

    t.clock.advance(MAX_AGE_MS - FRESH_MS);
    const expired = await t.read(1);
    expect(expired.status).toBe("MISS"); // loaded again rather than served from L0
    expect(expired.stats.cacheLayers.l0).toEqual({ hits: 0, misses: 1 });
    expect(t.loads()).toBe(2);
    t.open();
    await t.settle();
  });

  it("serves a product read every 500 ms for a minute from L0 as HIT, with one stock statement a second and no reload", async () => {
    const t = fakeCatalog();
    t.put(1);
    await t.readSettled(1);
    const statuses = new Set<string>();
    for (let step = 1; step <= 120; step++) {
      t.clock.advance(500);
      const r = await t.readSettled(1);
      statuses.add(r.status);
      expect(r.stats.dbRoundTrips).toBe(0);
    }
    expect([...statuses]).toEqual(["HIT"]);
    expect(t.loads()).toBe(1);
    expect(t.statements).toHaveLength(60);
  });

  it("refreshes only what was read within STOCK_READ_WINDOW_MS, every key in one statement", async () => {
    const t = fakeCatalog();
    const start = t.clock.now;
    const at = (ms: number) => t.clock.advance(start + ms - t.clock.now);
    for (const id of [1, 2, 3]) {
      t.put(id);
      await t.readSettled(id);
    }
    // Then only 1 and 2 are read, every second; 3 was last read at 0.
    for (let ms = 1_000; ms <= 7_000; ms += 1_000) {
      at(ms);
      await t.readSettled(1);
      await t.readSettled(2);
    }
    expect(t.statements).toEqual([
      [1, 2, 3], // 1 s
      [1, 2, 3],
      [1, 2, 3],
      [1, 2, 3], // 4 s: 3 was read less than STOCK_READ_WINDOW_MS ago
      [1, 2],
      [1, 2],
      [1, 2], // 7 s
    ]);
    expect(STOCK_READ_WINDOW_MS).toBe(5_000);
    // So 3's entry is current as of 4 s: STALE from L0 at 7 s, and not served from L0 at 9 s.
    expect((await t.read(3)).status).toBe("STALE");
    at(9_000);
    expect((await t.read(3)).status).toBe("MISS");
  });

  it("shows an order's stock a check later: re-rendered once (new body, new ETag), nothing made per request", async () => {
    const t = fakeCatalog();
    t.put(1, { stock: 10 });
    const first = await t.readSettled(1);
    await t.readSettled(1);
    t.order(1, 3);

    const digest = vi.spyOn(crypto.subtle, "digest");
    t.clock.advance(STOCK_REFRESH_MS);
    const during = await t.read(1); // finds the view a second old: starts the refresh, answers what it has
    expect(during).toMatchObject({ status: "HIT", body: { stock: 10 } });
    await t.settle();
    expect(digest).toHaveBeenCalledTimes(1); // the re-render: one body, one ETag

    const after = await Promise.all(Array.from({ length: 20 }, () => t.read(1)));
    expect(after.every((r) => r.status === "HIT" && r.body.stock === 7)).toBe(true);
    expect(new Set(after.map((r) => r.entry.etag))).toEqual(new Set([after[0]!.entry.etag]));
    expect(after[0]!.entry.etag).not.toBe(first.entry.etag);
    expect(new Set(after.map((r) => r.bytes)).size).toBe(1); // the same bytes for every response
    expect(new TextDecoder().decode(after[0]!.bytes)).toBe(after[0]!.entry.body);
    expect(after[0]!.body).toEqual({ id: 1, name: "p1", stock: 7, updated_at: t.product(1).updated_at });
    expect(digest).toHaveBeenCalledTimes(1); // nothing per request
    expect(t.loads()).toBe(1);

    // A check that finds nothing changed renders nothing.
    t.clock.advance(STOCK_REFRESH_MS);
    await t.readSettled(1);
    expect(t.statements).toHaveLength(2);
    expect(digest).toHaveBeenCalledTimes(1);
    expect((await t.read(1)).entry.etag).toBe(after[0]!.entry.etag);
  });

  it("is dropped when its product was deleted, or vanished, behind the API's back: the next read loads (404)", async () => {
    const t = fakeCatalog();
    t.put(1);
    t.put(2);
    await t.readSettled(1);
    await t.readSettled(2);
    t.remove(1); // deleted_at set
    t.vanish(2); // the row is gone
    t.clock.advance(STOCK_REFRESH_MS);
    expect((await t.readSettled(1)).status).toBe("HIT"); // the read that started the check
    expect(t.statements).toEqual([[1, 2]]);
    // Not from L0, nor from the Cache API or Redis, which still hold copies stored before the check.
    for (const id of [1, 2]) await expect(t.read(id)).rejects.toBeInstanceOf(ApiError);
    expect(t.loads()).toBe(4);
  });

  it("is dropped when updated_at moved but stock did not (no order does that): the next read loads it", async () => {
    const t = fakeCatalog();
    t.put(1);
    await t.readSettled(1);
    t.put(1, { name: "renamed in SQL", updated_at: new Date(t.clock.now + 1).toISOString() });
    t.clock.advance(STOCK_REFRESH_MS);
    await t.readSettled(1);
    const next = await t.read(1);
    expect(next).toMatchObject({ status: "MISS", body: { name: "renamed in SQL" } });
  });

  it("ages by the rules when the refresh fails, tried again at most once a second, and is loaded again at MAX_AGE_MS", async () => {
    const t = fakeCatalog();
    vi.spyOn(console, "warn").mockImplementation(() => {});
    t.put(1);
    await t.readSettled(1);
    t.failWith(new Error("stock statement failed"));
    const seen: string[] = [];
    for (let elapsed = 500; elapsed < MAX_AGE_MS; elapsed += 500) {
      t.clock.advance(500);
      seen.push((await t.readSettled(1)).status);
    }
    expect(seen).toEqual(["HIT", "HIT", "HIT", "STALE", "STALE", "STALE", "STALE", "STALE", "STALE"]);
    expect(t.statements).toHaveLength(4); // at 1, 2, 3 and 4 s
    t.clock.advance(500);
    expect((await t.read(1)).status).toBe("MISS");
    expect(t.loads()).toBe(2);
  });

  it("lives only MEMORY_MAX_LIFETIME_MS after its load, however current its stock", async () => {
    const t = fakeCatalog();
    t.put(1);
    await t.readSettled(1);
    for (let elapsed = 0; elapsed < MEMORY_MAX_LIFETIME_MS - STOCK_REFRESH_MS; elapsed += STOCK_REFRESH_MS) {
      t.clock.advance(STOCK_REFRESH_MS);
      expect((await t.readSettled(1)).status).toBe("HIT");
    }
    t.clock.advance(STOCK_REFRESH_MS);
    expect((await t.readSettled(1)).status).toBe("MISS");
    expect(t.loads()).toBe(2);
  });

  it("is gone when the catalog version changes: a refresh sent before lands on nothing", async () => {
    const t = fakeCatalog();
    t.put(1, { stock: 10 });
    await t.readSettled(1);
    t.hold();
    t.clock.advance(STOCK_REFRESH_MS);
    await t.read(1); // starts a refresh that is slow to land
    t.order(1, 1);
    await invalidateCatalog({ env: t.env, db });
    t.put(1, { name: "after the write" });
    const fresh = await t.read(1);
    expect(fresh).toMatchObject({ status: "MISS", body: { name: "after the write", stock: 9 } });
    t.order(1, 4); // the old refresh answers with stock 5: it must not touch the new entry
    t.open();
    await t.settle();
    expect((await t.read(1)).entry).toEqual(fresh.entry);
  });
});

describe("an L0 entry kept until the version changes (categories)", () => {
  it("is HIT with no statement and no reload until another isolate's bump is seen, or MEMORY_MAX_LIFETIME_MS", async () => {
    const t = fakeCatalog();
    t.put(1);
    const first = await t.readSettled(1, "version");
    expect(first.status).toBe("MISS");
    t.clock.advance(MEMORY_MAX_LIFETIME_MS / 2);
    const later = await t.readSettled(1, "version");
    expect(later).toMatchObject({ status: "HIT", maxAge: MAX_AGE_MS / 1000 });
    expect(t.statements).toHaveLength(0);

    // Another isolate's admin write: the version in Redis moves; this isolate sees it within VERSION_TTL_MS.
    await new RedisVersionSource(createRedis(env, { automaticDeserialization: false }), `${t.env.CACHE_NAMESPACE}:version`).bump();
    t.put(1, { name: "renamed" });
    t.clock.advance(VERSION_TTL_MS);
    expect(await t.readSettled(1, "version")).toMatchObject({ status: "MISS", body: { name: "renamed" } });

    t.clock.advance(MEMORY_MAX_LIFETIME_MS - 1);
    expect((await t.readSettled(1, "version")).status).toBe("HIT");
    t.clock.advance(1);
    expect((await t.readSettled(1, "version")).status).toBe("MISS");
    expect(t.loads()).toBe(3);
  });
});
