import { env } from "cloudflare:test";
import { eq, sql } from "drizzle-orm";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { MAX_AGE_MS, STOCK_REFRESH_MS } from "../../src/cache/policy";
import { createRedis } from "../../src/cache/redis";
import { products } from "../../src/db/schema";
import { productStocks } from "../../src/services/products";
import { adminAndCustomerTokens, makeUser } from "../support/accounts";
import { insertProducts as insertIntoCategory, newCategory } from "../support/catalog";
import { db } from "../support/db";
import { countDatabaseRequests, newNamespace, stopClock } from "../cache/helpers";
import { apiWithEnv } from "../support/api";
import { jsonRequest } from "../support/orders";

// The stock view through the API (README "Catalog cache"): product lists and details stay in this
// isolate's memory until the catalog version changes, and one statement a second keeps the stock they
// show within the 5 s bound. Real Postgres, Redis and Cache API; this isolate's clock is stopped and
// moved by the test, and each request's background work (waitUntil) is done before the next one, so
// what lands when is exact. Round trips are the SQL-over-HTTP requests this isolate's driver sends
// (each test file runs in an isolate of its own; the server's /__stats is shared by parallel files).

type Product = { id: number; stock: number; updated_at: string };
type Page = { items: Product[]; total: number };

let admin: string;

beforeAll(async () => {
  ({ admin } = await adminAndCustomerTokens());
});

afterEach(() => vi.restoreAllMocks());

/** Requests through the app with Redis and a cache namespace of the test's own. */
function catalog() {
  const namespace = newNamespace("stock-view");
  const call = (path: string, init?: RequestInit) => apiWithEnv({ CACHE_BACKEND: "upstash", CACHE_NAMESPACE: namespace }, path, init);
  const version = async () => createRedis(env).get<number>(`${namespace}:version`);
  return { call, version };
}

async function insertProducts(specs: Array<{ name: string; stock?: number }>): Promise<{ ids: number[]; category: string }> {
  const category = newCategory();
  return { ids: await insertIntoCategory(category, specs), category };
}

/** The stock view's statement, as the driver sends it. */
const isStockCheck = (body: string) => body.includes("= any(");
const idsIn = (body: string) =>
  String((JSON.parse(body) as { params: unknown[] }).params[0])
    .replace(/[{}]/g, "")
    .split(",")
    .map(Number);
const cacheOf = (res: Response) => res.headers.get("X-Cache");

describe("productStocks", () => {
  it("reads stock, updated_at and deletion of any number of products in one statement, leaving out unknown ids", async () => {
    const { ids } = await insertProducts([
      { name: "a", stock: 3 },
      { name: "b", stock: 4 },
    ]);
    await db.update(products).set({ deletedAt: new Date() }).where(eq(products.id, ids[1]!));
    const [row] = await db.select({ updatedAt: products.updatedAt }).from(products).where(eq(products.id, ids[0]!));
    const { result, bodies } = await countDatabaseRequests(() => productStocks(db, [...ids, 2_147_483_647]));
    expect(result.sort((x, y) => x.id - y.id)).toEqual([
      { id: ids[0], stock: 3, updated_at: row!.updatedAt.toISOString(), deleted: false },
      { id: ids[1], stock: 4, updated_at: expect.any(String), deleted: true },
    ]);
    expect(bodies).toHaveLength(1);
    expect(JSON.parse(bodies[0]!)).toMatchObject({
      query: expect.stringMatching(/= any\(\$1::int\[\]\)/),
      params: [`{${ids.join(",")},2147483647}`],
    });
    expect(await productStocks(db, [])).toEqual([]);
  });
});

describe("catalog reads kept current by the stock view", () => {
  it("serves a product read every 3 s from L0 for a minute with one stock query a second", async () => {
    const clock = stopClock();
    const { call } = catalog();
    const {
      ids: [id],
    } = await insertProducts([{ name: "read every 3 s" }]);
    const path = `/api/v1/products/${id}`;
    expect(cacheOf(await call(path))).toBe("MISS");

    const { result: served, bodies } = await countDatabaseRequests(async () => {
      const seen: Array<string | null> = [];
      for (let elapsed = 3_000; elapsed <= 60_000; elapsed += 3_000) {
        clock.advance(3_000);
        seen.push(cacheOf(await call(path)));
      }
      return seen;
    });
    // From L0: HIT, or STALE while its check runs (a lone key read every 3 s is 3 s old when read); never MISS.
    expect(served.every((status) => status === "HIT" || status === "STALE")).toBe(true);
    expect(bodies.every(isStockCheck)).toBe(true); // no reload in a minute: every round trip was a stock check
    expect(bodies.length).toBe(served.length); // one per read, each finding the view 3 s old
    expect(bodies.length).toBeLessThanOrEqual(60_000 / STOCK_REFRESH_MS);
  });

  it("counts one round trip per second for 100 hot keys", { timeout: 60_000 }, async () => {
    const clock = stopClock();
    const { call } = catalog();
    const { ids } = await insertProducts(Array.from({ length: 100 }, (_, i) => ({ name: `hot ${i}` })));
    for (const id of ids) expect(cacheOf(await call(`/api/v1/products/${id}`))).toBe("MISS");

    const SECONDS = 30;
    const { result: served, bodies } = await countDatabaseRequests(async () => {
      const seen: Array<string | null> = [];
      for (let second = 1; second <= SECONDS; second++) {
        clock.advance(1_000);
        // Each key every 3 s, a third of them each second: the chapter's load test, in order.
        for (const [i, id] of ids.entries()) if (i % 3 === second % 3) seen.push(cacheOf(await call(`/api/v1/products/${id}`)));
      }
      return seen;
    });
    expect(served.filter((status) => status === "HIT").length / served.length).toBe(1);
    expect(bodies.every(isStockCheck)).toBe(true);
    expect(bodies).toHaveLength(SECONDS); // one a second, for every key
    expect(new Set(idsIn(bodies.at(-1)!))).toEqual(new Set(ids));
  });

  it("shows an order's stock change within 5 s without a version bump", async () => {
    const clock = stopClock();
    const { call, version } = catalog();
    const {
      ids: [id],
      category,
    } = await insertProducts([{ name: "ordered", stock: 10 }]);
    const listPath = `/api/v1/products?category=${category}`;
    const detailPath = `/api/v1/products/${id}`;
    for (const path of [listPath, detailPath]) expect(cacheOf(await call(path))).toBe("MISS");
    const versionBefore = await version();

    // Through the API, its background work done before anything else is counted.
    const user = await makeUser();
    expect(
      (await apiWithEnv({}, "/api/v1/orders", jsonRequest("POST", user.token, { items: [{ product_id: id, quantity: 3 }] }))).status,
    ).toBe(201);
    const orderedAt = clock.now;
    let shownAt: number | undefined;
    const { bodies } = await countDatabaseRequests(async () => {
      while (shownAt === undefined && clock.now - orderedAt <= MAX_AGE_MS) {
        clock.advance(500);
        const [list, detail] = [await call(listPath), await call(detailPath)];
        expect([cacheOf(list), cacheOf(detail)]).toEqual(["HIT", "HIT"]);
        const stocks = [((await list.json()) as Page).items[0]!.stock, ((await detail.json()) as Product).stock];
        for (const stock of stocks) expect([10, 7]).toContain(stock);
        if (stocks.every((stock) => stock === 7)) shownAt = clock.now;
      }
    });
    expect(shownAt! - orderedAt).toBeLessThanOrEqual(STOCK_REFRESH_MS + 500); // the first check after the order
    expect(bodies.every(isStockCheck)).toBe(true); // re-rendered, not reloaded
    expect(await version()).toBe(versionBefore);

    // What the re-render shows is what the database says, byte for byte (an admin read is exact).
    for (const path of [listPath, detailPath]) {
      const exact = await call(path, { headers: { Authorization: `Bearer ${admin}` } });
      expect(cacheOf(exact)).toBe("BYPASS");
      expect(await (await call(path)).text()).toBe(await exact.text());
    }
  });

  it("re-renders an entry once when its stock changes: a new ETag and body, then nothing per request", async () => {
    const clock = stopClock();
    const { call } = catalog();
    const {
      ids: [id],
      category,
    } = await insertProducts([{ name: "re-rendered", stock: 5 }]);
    const paths = [`/api/v1/products?category=${category}`, `/api/v1/products/${id}`];
    const before = new Map<string, string>();
    for (const path of paths) before.set(path, (await call(path)).headers.get("ETag")!);

    // As an order would (src/services/order-placement-sql.ts): stock and updated_at together, nobody tells the cache.
    await db
      .update(products)
      .set({ stock: 4, updatedAt: sql`${products.updatedAt} + interval '1 second'` })
      .where(eq(products.id, id!));
    const digest = vi.spyOn(crypto.subtle, "digest");
    clock.advance(STOCK_REFRESH_MS);
    expect(cacheOf(await call(paths[1]!))).toBe("HIT"); // started the check; the list and the detail are re-rendered when it lands
    expect(digest).toHaveBeenCalledTimes(2);

    for (const path of paths) {
      const res = await call(path);
      const etag = res.headers.get("ETag")!;
      expect(etag).not.toBe(before.get(path));
      expect(await res.text()).toContain('"stock":4');
      for (let i = 0; i < 10; i++) {
        const again = await call(path, { headers: { "If-None-Match": etag } });
        expect([again.status, cacheOf(again), again.headers.get("ETag")]).toEqual([304, "HIT", etag]);
      }
      expect((await call(path, { headers: { "If-None-Match": before.get(path)! } })).status).toBe(200);
    }
    expect(digest).toHaveBeenCalledTimes(2);
  });

  it("drops an entry whose product was deleted behind the API's back", async () => {
    const clock = stopClock();
    const { call } = catalog();
    const {
      ids: [gone, kept],
      category,
    } = await insertProducts([{ name: "deleted in SQL" }, { name: "kept" }]);
    const listPath = `/api/v1/products?category=${category}`;
    const detailPath = `/api/v1/products/${gone}`;
    for (const path of [listPath, detailPath]) expect(cacheOf(await call(path))).toBe("MISS");

    await db.update(products).set({ deletedAt: new Date() }).where(eq(products.id, gone!));
    clock.advance(STOCK_REFRESH_MS);
    expect(cacheOf(await call(detailPath))).toBe("HIT"); // the read that started the check

    expect((await call(detailPath)).status).toBe(404);
    const list = await call(listPath);
    expect(cacheOf(list)).toBe("MISS"); // loaded again, not taken back from the Cache API or Redis
    expect(((await list.json()) as Page).items.map((p) => p.id)).toEqual([kept]);
  });
});
