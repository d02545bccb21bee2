import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { products } from "../../src/db/schema";
import { learnFromApp, serveHotRead } from "../../src/cache/hot-reads";
import { app } from "../../src/app";
import { eq } from "drizzle-orm";
import { adminAndCustomerTokens } from "../support/accounts";
import { insertProduct, insertProducts, newCategory } from "../support/catalog";
import { db } from "../support/db";
import { countDatabaseRequests, newNamespace, sleep } from "./helpers";
import { api } from "../support/api";

// The hot path (src/cache/hot-reads.ts): catalog HITs answered from L0 before the app runs. `api` goes
// through the Worker entry (src/index.ts), which tries the hot path first; `hot` asks the hot path alone,
// so a test can tell which of the two answered.

const ORIGIN = "http://tenpo.localhost";
let admin: string;
let customer: string;

beforeAll(async () => {
  ({ admin, customer } = await adminAndCustomerTokens());
});

async function hot(path: string, headers: Record<string, string> = {}): Promise<Response | undefined> {
  const ctx = createExecutionContext();
  const res = serveHotRead(new Request(ORIGIN + path, { headers }), env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

const newProduct = (stock = 10): Promise<number> => insertProduct({ name: "hot", price: "2.50", stock });

/** Header names and values that do not change from one response to the next. */
function stableHeaders(res: Response): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of res.headers)
    if (name !== "x-request-id" && name !== "server-timing" && name !== "content-length") out[name] = value;
  return out;
}

describe("the hot path", () => {
  it("answers a read the app has answered from memory, with the app's body, headers and ETag", async () => {
    const id = await newProduct();
    const viaApp = await api(`/api/v1/products/${id}`);
    expect(viaApp.headers.get("X-Cache")).toBe("MISS");
    const appHit = await api(`/api/v1/products/${id}`);
    const hit = await hot(`/api/v1/products/${id}`);
    expect(hit).toBeDefined();
    expect(hit!.status).toBe(200);
    expect(await hit!.text()).toBe(await viaApp.text());
    expect(hit!.headers.get("X-Cache")).toBe("HIT");
    expect(stableHeaders(hit!)).toEqual(stableHeaders(appHit));
    expect(hit!.headers.get("Server-Timing")).toBe('db;dur=0;desc="0 queries", redis;desc="0 calls", cache;dur=0;desc="HIT", total;dur=0');
  });

  it("shows as much Server-Timing as the app: the total alone, or none, as SERVER_TIMING says", async () => {
    for (const [mode, expected] of [
      ["total", "total;dur=0"],
      ["off", null],
    ] as const) {
      // An env object of its own: the hot path learns the app's headers per deployment (env).
      const modeEnv = { ...env, SERVER_TIMING: mode, CACHE_NAMESPACE: newNamespace(`hot-${mode}`) };
      const path = `/api/v1/products/${await newProduct()}`;
      const ctx = createExecutionContext();
      const request = new Request(ORIGIN + path);
      const viaApp = await app.fetch(request, modeEnv, ctx);
      await waitOnExecutionContext(ctx);
      learnFromApp(request, modeEnv, viaApp);
      const appTiming = viaApp.headers.get("Server-Timing");
      if (mode === "total") expect(appTiming).toMatch(/^total;dur=[\d.]+$/);
      else expect(appTiming).toBeNull();

      const hitCtx = createExecutionContext();
      const hit = serveHotRead(new Request(ORIGIN + path), modeEnv, hitCtx);
      await waitOnExecutionContext(hitCtx);
      expect(hit?.headers.get("X-Cache"), mode).toBe("HIT");
      expect(hit!.headers.get("Server-Timing"), mode).toBe(expected);
    }
  });

  it("costs no database round trip", async () => {
    const id = await newProduct();
    await api(`/api/v1/products/${id}`);
    const { result, all } = await countDatabaseRequests(() => hot(`/api/v1/products/${id}`));
    expect(result?.status).toBe(200);
    expect(all).toBe(0);
  });

  it("echoes a sane X-Request-Id and replaces anything else", async () => {
    const id = await newProduct();
    await api(`/api/v1/products/${id}`);
    expect((await hot(`/api/v1/products/${id}`, { "X-Request-Id": "trace-42" }))!.headers.get("X-Request-Id")).toBe("trace-42");
    const replaced = (await hot(`/api/v1/products/${id}`, { "X-Request-Id": "bad id!" }))!.headers.get("X-Request-Id");
    expect(replaced).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("answers 304 with no body to a matching If-None-Match", async () => {
    const id = await newProduct();
    const etag = (await api(`/api/v1/products/${id}`)).headers.get("ETag")!;
    const res = await hot(`/api/v1/products/${id}`, { "If-None-Match": etag });
    expect(res!.status).toBe(304);
    expect(await res!.text()).toBe("");
    expect(res!.headers.get("ETag")).toBe(etag);
  });

  it("serves a customer's read and leaves a token claiming admin to the app", async () => {
    const id = await newProduct();
    await api(`/api/v1/products/${id}`);
    expect((await hot(`/api/v1/products/${id}`, { Authorization: `Bearer ${customer}` }))?.status).toBe(200);
    expect(await hot(`/api/v1/products/${id}`, { Authorization: `Bearer ${admin}` })).toBeUndefined();
  });

  it("leaves a read with an Origin header to the app (CORS depends on it)", async () => {
    const id = await newProduct();
    await api(`/api/v1/products/${id}`);
    expect(await hot(`/api/v1/products/${id}`, { Origin: "https://shop.example" })).toBeUndefined();
  });

  it("never answers a URL the app has not validated", async () => {
    const id = await newProduct();
    await api(`/api/v1/products/${id}`);
    expect(await hot(`/api/v1/products/0${id}`)).toBeUndefined();
    expect(await hot(`/api/v1/products?page=${id}&unseen=1`)).toBeUndefined();
    expect((await api(`/api/v1/products/abc`)).status).toBe(400);
    expect(await hot(`/api/v1/products/abc`)).toBeUndefined();
  });

  it("answers list pages under their exact query", async () => {
    const category = newCategory();
    await insertProducts(category, [
      { name: "l1", price: "1.00", stock: 1 },
      { name: "l2", price: "3.00", stock: 1 },
    ]);
    const path = `/api/v1/products?category=${category}&sort=-price`;
    const body = await (await api(path)).text();
    const res = await hot(path);
    expect(await res!.text()).toBe(body);
  });

  it("keeps a hot product's stock current within 5 s while every read is a HIT", async () => {
    const id = await newProduct(10);
    await api(`/api/v1/products/${id}`);
    await db.update(products).set({ stock: 7 }).where(eq(products.id, id));
    const changedAt = Date.now();
    let last: { stock: number } = { stock: 10 };
    const statuses = new Set<string>();
    while (Date.now() - changedAt < 3_500 && last.stock !== 7) {
      await sleep(100);
      const res = await api(`/api/v1/products/${id}`);
      statuses.add(res.headers.get("X-Cache")!);
      last = (await res.json()) as { stock: number };
    }
    expect(last.stock).toBe(7);
    expect(Date.now() - changedAt).toBeLessThan(5_000);
    expect([...statuses]).toEqual(["HIT"]);
  });

  it("stops serving the old body as soon as an admin write has returned", async () => {
    const id = await newProduct();
    await api(`/api/v1/products/${id}`);
    expect((await hot(`/api/v1/products/${id}`))?.status).toBe(200);
    const patched = await api(`/api/v1/products/${id}`, {
      method: "PATCH",
      headers: { Authorization: `Bearer ${admin}`, "Content-Type": "application/json" },
      body: JSON.stringify({ name: "renamed" }),
    });
    expect(patched.status).toBe(200);
    const after = await hot(`/api/v1/products/${id}`);
    if (after) expect(((await after.json()) as { name: string }).name).toBe("renamed");
    expect(((await (await api(`/api/v1/products/${id}`)).json()) as { name: string }).name).toBe("renamed");
  });
});
