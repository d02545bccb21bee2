import { env } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { clearCatalogMemory, invalidateCatalog, readCatalog, type CatalogContext } from "../../src/cache/catalog-cache";
import { FRESH_MS, MAX_AGE_MS } from "../../src/cache/policy";
import { ApiError } from "../../src/errors";
import { newRequestStats, withRequestStats, type RequestStats } from "../../src/observability/request-stats";
import type { Reach } from "../../src/cache/reach";
import { db } from "../support/db";
import { CLOSED } from "../support/network";
import { globalStoreKeys, newNamespace, sleep } from "./helpers";

// The read-through path on its own (no HTTP): which layer answers, how often Postgres is asked,
// and what a failing layer costs. The request stats are this test's own record here.

type Backend = "kv" | "upstash";

function setup(backend: Backend, overrides: Partial<Env> = {}) {
  const pending: Promise<unknown>[] = [];
  const namespace = newNamespace(backend);
  const ctxEnv = { ...env, CACHE_BACKEND: backend, CACHE_NAMESPACE: namespace, ...overrides } as Env;
  const context = (origin = "http://tenpo.localhost"): CatalogContext => ({
    env: ctxEnv,
    db,
    origin,
    waitUntil: (p) => void pending.push(p),
  });
  /** Lets the background work (layer writes, refreshes) finish. */
  const settle = async () => {
    while (pending.length > 0) await Promise.allSettled(pending.splice(0));
  };
  let loads = 0;
  let payload = "v1";
  const load = async () => {
    loads += 1;
    await sleep(5);
    return { payload, loads };
  };
  return {
    env: ctxEnv,
    /** The entry keys the global store holds for this test. */
    globalKeys: () => globalStoreKeys(ctxEnv, namespace),
    context,
    settle,
    load,
    loads: () => loads,
    setPayload: (value: string) => (payload = value),
  };
}

async function read(ctx: CatalogContext, resource: string, load: () => Promise<unknown>, reach?: Reach) {
  const stats: RequestStats = newRequestStats();
  const result = await withRequestStats(stats, () => readCatalog(ctx, resource, load, "age", reach));
  return { ...result, body: JSON.parse(result.entry.body) as { payload: string; loads: number }, stats };
}

const hitsIn = (stats: RequestStats) =>
  Object.fromEntries(
    Object.entries(stats.cacheLayers).map(([layer, { hits, misses }]) => [layer, hits > 0 ? "hit" : misses > 0 ? "miss" : "-"]),
  );

describe.each<Backend>(["kv", "upstash"])("the catalog cache with CACHE_BACKEND=%s", (backend) => {
  const globalLayer = backend === "kv" ? "kv" : "redis";

  it("fills every layer on a miss, then answers from L0, the Cache API and the global store in turn without Postgres", async () => {
    const t = setup(backend);
    const first = await read(t.context(), "r", t.load);
    expect(first.status).toBe("MISS");
    expect(hitsIn(first.stats)).toEqual({ l0: "miss", "cache-api": "miss", [globalLayer]: "miss" });
    await t.settle();

    const fromMemory = await read(t.context(), "r", t.load);
    expect(fromMemory.status).toBe("HIT");
    expect(hitsIn(fromMemory.stats)).toEqual({ l0: "hit" });
    expect(fromMemory.entry).toEqual(first.entry);

    clearCatalogMemory(t.env);
    const fromEdge = await read(t.context(), "r", t.load);
    expect(fromEdge.status).toBe("HIT");
    expect(hitsIn(fromEdge.stats)).toEqual({ l0: "miss", "cache-api": "hit" });

    clearCatalogMemory(t.env);
    // Another hostname has a Cache API of its own, like another location: only the global store has it.
    const fromGlobal = await read(t.context("http://elsewhere.test"), "r", t.load);
    expect(fromGlobal.status).toBe("HIT");
    expect(hitsIn(fromGlobal.stats)).toEqual({ l0: "miss", "cache-api": "miss", [globalLayer]: "hit" });
    expect(fromGlobal.entry).toEqual(first.entry);

    expect(t.loads()).toBe(1);
    for (const hit of [fromMemory, fromEdge, fromGlobal]) expect(hit.stats.dbRoundTrips).toBe(0);
  });

  it("keeps a long-tail read out of the global store: never looked up or written there, served from L0 and the Cache API", async () => {
    const t = setup(backend);
    const first = await read(t.context(), "r", t.load, "long-tail");
    expect(first.status).toBe("MISS");
    expect(hitsIn(first.stats)).toEqual({ l0: "miss", "cache-api": "miss" });
    await t.settle();
    expect(await t.globalKeys()).toEqual([]);

    expect((await read(t.context(), "r", t.load, "long-tail")).status).toBe("HIT");
    clearCatalogMemory(t.env);
    const fromEdge = await read(t.context(), "r", t.load, "long-tail");
    expect(fromEdge.status).toBe("HIT");
    expect(hitsIn(fromEdge.stats)).toEqual({ l0: "miss", "cache-api": "hit" });

    // Another location: no global copy to find, so Postgres, and still nothing written to the global store.
    clearCatalogMemory(t.env);
    const elsewhere = await read(t.context("http://elsewhere.test"), "r", t.load, "long-tail");
    expect(elsewhere.status).toBe("MISS");
    expect(hitsIn(elsewhere.stats)).toEqual({ l0: "miss", "cache-api": "miss" });
    await t.settle();
    expect(t.loads()).toBe(2);
    expect(await t.globalKeys()).toEqual([]);

    // The same read declared shared goes to every layer.
    await read(t.context(), "s", t.load, "shared");
    await t.settle();
    expect((await t.globalKeys()).map((key) => key.split(":").at(-1))).toEqual(["s"]);
  });

  it("loads once for 50 concurrent misses on one key", async () => {
    const t = setup(backend);
    const reads = await Promise.all(Array.from({ length: 50 }, () => read(t.context(), "r", t.load)));
    expect(t.loads()).toBe(1);
    expect(new Set(reads.map((r) => r.entry.etag)).size).toBe(1);
    expect(reads.every((r) => r.status === "MISS")).toBe(true);
    expect(reads.reduce((sum, r) => sum + r.stats.dbRoundTrips, 0)).toBeLessThanOrEqual(backend === "kv" ? 1 : 0); // the version read
  });

  it("passes a failing load (404) to every waiting reader and caches nothing", async () => {
    const t = setup(backend);
    let calls = 0;
    const missing = async () => {
      calls += 1;
      await sleep(5);
      throw ApiError.notFound("Product 1 not found");
    };
    const settled = await Promise.allSettled(Array.from({ length: 5 }, () => read(t.context(), "gone", missing)));
    expect(settled.every((s) => s.status === "rejected" && s.reason instanceof ApiError)).toBe(true);
    expect(calls).toBe(1);
    await expect(read(t.context(), "gone", missing)).rejects.toBeInstanceOf(ApiError);
    expect(calls).toBe(2);
  });

  it("serves STALE after FRESH_MS with one background refresh, and never serves data older than MAX_AGE_MS", {
    timeout: 20_000,
  }, async () => {
    const t = setup(backend);
    await read(t.context(), "r", t.load);
    await t.settle();
    t.setPayload("v2");
    await sleep(FRESH_MS + 50);

    const stale = await Promise.all(Array.from({ length: 10 }, () => read(t.context(), "r", t.load)));
    expect(stale.map((r) => r.status)).toEqual(Array(10).fill("STALE"));
    expect(stale[0]!.body.payload).toBe("v1");
    await t.settle();
    expect(t.loads()).toBe(2); // one refresh for ten stale reads

    const refreshed = await read(t.context(), "r", t.load);
    expect(refreshed).toMatchObject({ status: "HIT", body: { payload: "v2" } });

    await sleep(MAX_AGE_MS + 50);
    t.setPayload("v3");
    const expired = await read(t.context(), "r", t.load);
    expect(expired).toMatchObject({ status: "MISS", body: { payload: "v3" } });
  });

  it("reads afresh right after invalidateCatalog", async () => {
    const t = setup(backend);
    await read(t.context(), "r", t.load);
    await t.settle();
    expect((await read(t.context(), "r", t.load)).status).toBe("HIT");
    t.setPayload("v2");
    expect(await invalidateCatalog({ env: t.env, db })).toBeGreaterThan(0);
    for (const origin of ["http://tenpo.localhost", "http://elsewhere.test"]) {
      const after = await read(t.context(origin), "r", t.load);
      expect(after.body.payload).toBe("v2");
    }
    expect(t.loads()).toBe(2);
  });
});

describe("when a layer fails", () => {
  it("reads from Postgres with BYPASS while Redis is down, without waiting, one load for concurrent reads", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const t = setup("upstash", { UPSTASH_REDIS_REST_URL: CLOSED });
    const started = Date.now();
    const reads = await Promise.all(Array.from({ length: 10 }, () => read(t.context(), "r", t.load)));
    expect(reads.map((r) => r.status)).toEqual(Array(10).fill("BYPASS"));
    expect(reads[0]!.body.payload).toBe("v1");
    expect(t.loads()).toBe(1);
    for (let i = 0; i < 5; i++) expect((await read(t.context(), "r", t.load)).status).toBe("BYPASS");
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await invalidateCatalog({ env: t.env, db })).toBeUndefined(); // the write stands; the bump is reported as failed
    vi.restoreAllMocks();
  });

  it("falls through a KV that hangs after one short timeout, then skips it", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const hanging = { get: () => new Promise(() => {}), put: () => new Promise(() => {}) } as unknown as KVNamespace;
    const t = setup("kv", { CATALOG_KV: hanging });
    const started = Date.now();
    const first = await read(t.context(), "a", t.load);
    expect(first.status).toBe("MISS");
    expect(Date.now() - started).toBeLessThan(1500);
    const next = Date.now();
    expect((await read(t.context("http://elsewhere.test"), "b", t.load)).status).toBe("MISS");
    expect(Date.now() - next).toBeLessThan(250); // KV is skipped now, not waited for
    expect(warn.mock.calls.filter(([line]) => String(line).includes('"layer":"kv"'))).toHaveLength(1);
    vi.restoreAllMocks();
  });
});
