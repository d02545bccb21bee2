import { eq } from "drizzle-orm";
import { sign } from "hono/jwt";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { products } from "../../src/db/schema";
import { adminAndCustomerTokens } from "../support/accounts";
import { insertProducts, newCategory } from "../support/catalog";
import { db } from "../support/db";
import { CLOSED } from "../support/network";
import { countDatabaseRequests, globalStoreKeys, newNamespace, sleep } from "../cache/helpers";
import { api, apiWithEnv } from "../support/api";

// GET /products, /products/{id} and /categories through the catalog cache (README "Catalog cache"),
// against the real Postgres, Redis (through the Upstash REST server) and Miniflare's KV and Cache API.
// Every test has categories and products of its own, and most a cache namespace of their own.

type Product = { id: number; name: string; category: string; price: string; stock: number; updated_at: string };
type Page = { items: Product[]; total: number };
type Category = { category: string; product_count: number };
type Call = (path: string, init?: RequestInit) => Promise<Response>;

let admin: string;
let customer: string;

beforeAll(async () => {
  ({ admin, customer } = await adminAndCustomerTokens());
});

afterEach(() => vi.restoreAllMocks());

const bearer = (token: string) => ({ headers: { Authorization: `Bearer ${token}` } });

/** Calls through the app with a backend and a namespace of the test's own. */
function backendCall(backend: "kv" | "upstash", overrides: Partial<Env> = {}): Call {
  const namespace = newNamespace(backend);
  return (path, init) => apiWithEnv({ CACHE_BACKEND: backend, CACHE_NAMESPACE: namespace, ...overrides }, path, init);
}

const BACKENDS: Array<[string, () => Call]> = [
  ["kv (the default configuration, through the Worker entry)", () => api],
  ["kv", () => backendCall("kv")],
  ["upstash", () => backendCall("upstash")],
];

async function json<T>(res: Response): Promise<T> {
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as T;
}

async function send(call: Call, method: string, path: string, body?: unknown): Promise<Response> {
  return call(path, {
    method,
    headers: { Authorization: `Bearer ${admin}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

describe.each(BACKENDS)("with CACHE_BACKEND=%s", (_, makeCall) => {
  it("answers MISS, then HIT with the same body, ETag and a Cache-Control within the 5 s bound", async () => {
    const call = makeCall();
    const category = newCategory();
    await insertProducts(category, [{ name: "a" }, { name: "b" }]);
    const first = await call(`/api/v1/products?category=${category}`);
    const firstBody = await first.text();
    expect(first.status).toBe(200);
    expect(first.headers.get("X-Cache")).toBe("MISS");
    expect(first.headers.get("Content-Type")).toMatch(/^application\/json/);
    expect(first.headers.get("ETag")).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect(first.headers.get("Cache-Control")).toMatch(/^public, max-age=[0-5]$/);
    expect((JSON.parse(firstBody) as Page).total).toBe(2);

    const second = await call(`/api/v1/products?category=${category}`);
    expect(second.headers.get("X-Cache")).toBe("HIT");
    expect(await second.text()).toBe(firstBody);
    expect(second.headers.get("ETag")).toBe(first.headers.get("ETag"));
  });

  it("makes no database request for a cache hit", async () => {
    const call = makeCall();
    const category = newCategory();
    const [id] = await insertProducts(category, [{ name: "a" }]);
    for (const path of [`/api/v1/products?category=${category}`, `/api/v1/products/${id}`, "/api/v1/categories"]) {
      await call(path); // fills
      const { result, all } = await countDatabaseRequests(() => call(path));
      expect(result.headers.get("X-Cache"), path).toBe("HIT");
      expect(all, path).toBe(0);
    }
  });

  it("is fresh after every admin write, five times in a row, for the list, the detail and the categories", async () => {
    const call = makeCall();
    const category = newCategory();
    const [id] = await insertProducts(category, [{ name: "tracked", price: "1.00" }]);
    const listPath = `/api/v1/products?category=${category}`;
    const detailPath = `/api/v1/products/${id}`;
    // Cached before the writes: without invalidation the reads below would answer these.
    for (const path of [listPath, detailPath, listPath, detailPath]) await call(path);
    expect((await call(listPath)).headers.get("X-Cache")).toBe("HIT");

    for (let i = 2; i <= 6; i++) {
      const price = `${i}.00`;
      expect((await send(call, "PATCH", detailPath, { price, name: `tracked ${i}` })).status).toBe(200);
      const page = await json<Page>(await call(listPath));
      expect(page.items.map((p) => [p.price, p.name])).toEqual([[price, `tracked ${i}`]]);
      expect(await json<Product>(await call(detailPath))).toMatchObject({ price, name: `tracked ${i}` });
    }

    const created = await json<Product>(
      await send(call, "POST", "/api/v1/products", { name: "new one", category, price: "3.00" }).then(
        (res) => new Response(res.body, { status: res.status === 201 ? 200 : res.status }),
      ),
    );
    expect((await json<Page>(await call(listPath))).items.map((p) => p.id)).toEqual([id, created.id]);
    const counted = (await json<Category[]>(await call("/api/v1/categories"))).find((c) => c.category === category);
    expect(counted?.product_count).toBe(2);

    expect((await send(call, "DELETE", detailPath)).status).toBe(204);
    expect((await json<Page>(await call(listPath))).items.map((p) => p.id)).toEqual([created.id]);
    expect((await call(detailPath)).status).toBe(404);
    expect((await json<Category[]>(await call("/api/v1/categories"))).find((c) => c.category === category)?.product_count).toBe(1);
  });

  it("shows a stock change made behind the API's back within 5 s", { timeout: 20_000 }, async () => {
    const call = makeCall();
    const category = newCategory();
    const [id] = await insertProducts(category, [{ name: "stocked", stock: 100 }]);
    const listPath = `/api/v1/products?category=${category}`;
    const detailPath = `/api/v1/products/${id}`;
    await call(listPath);
    await call(detailPath);
    expect((await call(detailPath)).headers.get("X-Cache")).toBe("HIT");

    // As an order would: the database changes, nobody tells the cache.
    await db.update(products).set({ stock: 42 }).where(eq(products.id, id!));
    const changedAt = Date.now();
    const seen = new Set<string>();
    let freshAt: number | undefined;
    while (Date.now() - changedAt < 8000) {
      const startedAt = Date.now();
      const [list, detail] = await Promise.all([call(listPath), call(detailPath)]);
      seen.add(`${list.headers.get("X-Cache")}`).add(`${detail.headers.get("X-Cache")}`);
      const stocks = [((await list.json()) as Page).items[0]!.stock, ((await detail.json()) as Product).stock];
      if (stocks.every((s) => s === 42)) {
        freshAt = startedAt;
        break;
      }
      // Data older than the change may only be served while it is less than 5 s old.
      expect(startedAt - changedAt).toBeLessThanOrEqual(5000);
      await sleep(100);
    }
    expect(freshAt, "the new stock never showed").toBeDefined();
    expect(freshAt! - changedAt).toBeLessThanOrEqual(5000);
    expect([...seen].some((status) => status === "HIT" || status === "STALE")).toBe(true);
  });

  it("answers 304 to a matching If-None-Match, and 200 with a new ETag once the product changed", async () => {
    const call = makeCall();
    const [id] = await insertProducts(newCategory(), [{ name: "etag" }]);
    const path = `/api/v1/products/${id}`;
    const first = await call(path);
    const etag = first.headers.get("ETag")!;
    for (const sent of [etag, `W/${etag}`, `"other", ${etag}`]) {
      const res = await call(path, { headers: { "If-None-Match": sent } });
      expect(res.status, sent).toBe(304);
      expect(await res.text()).toBe("");
      expect(res.headers.get("ETag")).toBe(etag);
      expect(res.headers.get("X-Cache")).toMatch(/^(HIT|STALE)$/);
      expect(res.headers.get("Cache-Control")).toMatch(/^public, max-age=\d$/);
    }
    expect((await call(path, { headers: { "If-None-Match": '"not-it"' } })).status).toBe(200);

    expect((await send(call, "PATCH", path, { stock: 7 })).status).toBe(200);
    const changed = await call(path, { headers: { "If-None-Match": etag } });
    expect(changed.status).toBe(200);
    expect(changed.headers.get("ETag")).not.toBe(etag);
    expect(((await changed.json()) as Product).stock).toBe(7);
  });
});

describe("who bypasses the cache", () => {
  it("an admin: BYPASS, private, and exact even while the public read is cached", async () => {
    const category = newCategory();
    const [id] = await insertProducts(category, [{ name: "x", stock: 5 }]);
    const path = `/api/v1/products/${id}`;
    await api(path);
    expect((await api(path)).headers.get("X-Cache")).toBe("HIT");
    await db.update(products).set({ stock: 6 }).where(eq(products.id, id!));

    for (let i = 0; i < 3; i++) {
      const res = await api(path, bearer(admin));
      expect(res.headers.get("X-Cache")).toBe("BYPASS");
      expect(res.headers.get("Cache-Control")).toBe("private, no-store");
      expect(res.headers.get("ETag")).toBeTruthy();
      expect(((await res.json()) as Product).stock).toBe(6);
    }
    const list = await api(`/api/v1/products?category=${category}`, bearer(admin));
    expect(list.headers.get("X-Cache")).toBe("BYPASS");
    expect(((await list.json()) as Page).items[0]!.stock).toBe(6);
    expect((await api("/api/v1/categories", bearer(admin))).headers.get("X-Cache")).toBe("BYPASS");
  });

  it("not a customer, nor a token that is invalid or only claims to be an admin: those reads stay public and cached", async () => {
    const [id] = await insertProducts(newCategory(), [{ name: "x" }]);
    const path = `/api/v1/products/${id}`;
    await api(path);
    const now = Math.floor(Date.now() / 1000);
    const forged = await sign({ sub: "1", adm: true, iat: now, exp: now + 3600 }, "not-the-secret", "HS256");
    for (const authorization of [`Bearer ${customer}`, "Bearer not-a-token", `Bearer ${forged}`, "Basic dXNlcjpwYXNz"]) {
      const res = await api(path, { headers: { Authorization: authorization } });
      expect(res.status, authorization).toBe(200);
      expect(res.headers.get("X-Cache"), authorization).toBe("HIT");
      expect(res.headers.get("Cache-Control")).toMatch(/^public, /);
    }
  });
});

describe("cache keys", () => {
  it("are one entry for reads that mean the same: defaults filled, parameters in any order", async () => {
    const call = backendCall("kv");
    const category = newCategory();
    await insertProducts(category, [{ name: "a", price: "10.00" }]);
    expect((await call(`/api/v1/products?category=${category}`)).headers.get("X-Cache")).toBe("MISS");
    for (const query of [
      `category=${category}&page=1`,
      `page_size=20&sort=id&category=${category}&page=1`,
      `page=1&category=${category}&unknown=1`,
    ]) {
      expect((await call(`/api/v1/products?${query}`)).headers.get("X-Cache"), query).toBe("HIT");
    }
    expect((await call(`/api/v1/products?category=${category}&min_price=10`)).headers.get("X-Cache")).toBe("MISS");
    expect((await call(`/api/v1/products?category=${category}&min_price=10.00`)).headers.get("X-Cache")).toBe("HIT");
    expect((await call(`/api/v1/products?category=${category}&page=2`)).headers.get("X-Cache")).toBe("MISS");
  });
});

describe.each<"kv" | "upstash">(["kv", "upstash"])("the global store with CACHE_BACKEND=%s", (backend) => {
  it("gets the first unfiltered list pages, details and categories, and no search, filtered list or deep page", async () => {
    const namespace = newNamespace(backend);
    const call: Call = (path, init) => apiWithEnv({ CACHE_BACKEND: backend, CACHE_NAMESPACE: namespace }, path, init);
    const category = newCategory();
    const [id] = await insertProducts(category, [{ name: "one-off lamp" }]);
    const shared = ["/api/v1/products", "/api/v1/products?page=10", `/api/v1/products/${id}`, "/api/v1/categories"];
    const search = `/api/v1/products?q=${crypto.randomUUID()}`;
    const longTail = [search, `/api/v1/products?category=${category}`, "/api/v1/products?min_price=1.23", "/api/v1/products?page=11"];
    for (const path of [...shared, ...longTail]) expect((await call(path)).headers.get("X-Cache"), path).toBe("MISS");

    // `<namespace>:<version>:<resource>`: the resources the global store holds.
    const held = (await globalStoreKeys({ CACHE_BACKEND: backend }, namespace)).map((key) =>
      key.slice(namespace.length + 1).replace(/^[^:]+:/, ""),
    );
    expect(held.sort()).toEqual(
      ["categories", "list?page=10&page_size=20&sort=id", "list?page=1&page_size=20&sort=id", `product/${id}`].sort(),
    );
    // Still cached where it costs no shared store: this isolate's memory (and the location's Cache API).
    expect((await call(search)).headers.get("X-Cache")).toBe("HIT");
  });
});

describe("stampede protection", () => {
  it("answers 50 concurrent misses on one key with one database query (requests through the Worker entry)", async () => {
    const category = newCategory();
    await insertProducts(category, [{ name: "hot" }]);
    const { result, catalogQueries } = await countDatabaseRequests(() =>
      Promise.all(Array.from({ length: 50 }, () => api(`/api/v1/products?category=${category}`))),
    );
    const bodies = await Promise.all(result.map((res) => res.text()));
    expect(result.every((res) => res.status === 200)).toBe(true);
    expect(new Set(bodies).size).toBe(1);
    expect(catalogQueries).toBe(1);
  });

  it("also with Redis: one round trip to Postgres in all", async () => {
    const call = backendCall("upstash");
    const [id] = await insertProducts(newCategory(), [{ name: "hot" }]);
    const { result, all } = await countDatabaseRequests(() =>
      Promise.all(Array.from({ length: 50 }, () => call(`/api/v1/products/${id}`))),
    );
    expect(result.every((res) => res.status === 200)).toBe(true);
    expect(all).toBe(1);
  });
});

describe("a cache that is down or slow", () => {
  it("does not hold reads while Redis is down: answered from Postgres (BYPASS), quickly, exact", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const call = backendCall("upstash", { UPSTASH_REDIS_REST_URL: CLOSED });
    const category = newCategory();
    const [id] = await insertProducts(category, [{ name: "a", stock: 3 }]);
    for (let i = 0; i < 5; i++) {
      const started = Date.now();
      const res = await call(`/api/v1/products?category=${category}`);
      expect(Date.now() - started).toBeLessThan(1000);
      expect(res.headers.get("X-Cache")).toBe("BYPASS");
      expect((await json<Page>(res)).items[0]!.stock).toBe(3 + i);
      await db
        .update(products)
        .set({ stock: 4 + i })
        .where(eq(products.id, id!));
    }
    // An admin write still succeeds: the version bump is the cache's problem, not the writer's.
    vi.spyOn(console, "error").mockImplementation(() => {});
    expect((await send(call, "PATCH", `/api/v1/products/${id}`, { stock: 1 })).status).toBe(200);
  });

  it("does not wait for a slow Redis longer than its timeout, and logs it once", { timeout: 20_000 }, async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    // A Redis that takes 3 s to answer. Faked at fetch, inside this isolate: the REST server's
    // /__faults is one state for the whole run, which parallel files could replace under this test.
    const slowRedis = "http://slow-redis.test";
    const realFetch = globalThis.fetch;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
      const url = input instanceof Request ? input.url : String(input);
      if (!url.startsWith(slowRedis)) return realFetch(input, init);
      await new Promise((resolve, reject) => {
        const timer = setTimeout(resolve, 3000);
        init?.signal?.addEventListener("abort", () => {
          clearTimeout(timer);
          reject(init.signal!.reason);
        });
      });
      return Response.json({ result: null });
    });
    const call = backendCall("upstash", { UPSTASH_REDIS_REST_URL: slowRedis });
    const category = newCategory();
    await insertProducts(category, [{ name: "a" }]);
    for (let i = 0; i < 4; i++) {
      const started = Date.now();
      const res = await call(`/api/v1/products?category=${category}`);
      expect(Date.now() - started).toBeLessThan(1500);
      expect(res.status).toBe(200);
      expect(res.headers.get("X-Cache")).toBe("BYPASS");
    }
    expect(warn.mock.calls.filter(([line]) => String(line).includes("catalog cache layer failing"))).toHaveLength(1);
  });
});
