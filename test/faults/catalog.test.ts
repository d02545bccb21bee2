import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { CALL_TIMEOUT_MS, FRESH_MS, MAX_AGE_MS, RETRY_AFTER_MS, STALE_IF_ERROR_MS, VERSION_TTL_MS } from "../../src/cache/policy";
import { products } from "../../src/db/schema";
import { READ_DEADLINE_MS } from "../../src/db/resilience";
import { BLOB_FIELDS } from "../../src/observability/data-point";
import { newNamespace } from "../cache/helpers";
import { makeProducts } from "../support/catalog";
import { db } from "../support/db";
import { CLOSED } from "../support/network";
import {
  capturingMetrics,
  clearFaults,
  expectServiceUnavailable,
  markedDatabase,
  realNow,
  setRedisFault,
  setSqlFault,
  timed,
  quietLogs,
} from "./support";

// Catalog reads under dependency faults (README "Failure modes"):
//   - Postgres failing or slow: entries past the 5 s bound are still served, X-Cache: STALE, while
//     their data is younger than STALE_IF_ERROR_MS (stale-if-error); a read with nothing cached, or
//     only older, is 503 service_unavailable, quickly;
//   - Redis or KV failing, slow or unreachable: reads are answered from Postgres, exact, without
//     waiting for the cache more than one short timeout, logged once per isolate and interval, and
//     each such request says so in its `degraded` metrics blob.
// Faults are real: the SQL-over-HTTP and Upstash REST servers, scoped to this test's database marker
// and cache namespace. Entries are aged by moving this isolate's clock (Date.now) forward.

type Product = { id: number; stock: number };
type Backend = "kv" | "upstash";

/** From now on this isolate's Date.now() runs `ms` ahead: every cached entry looks that much older. */
function advanceClock(ms: number): void {
  vi.spyOn(Date, "now").mockImplementation(() => realNow() + ms);
}

afterEach(async () => {
  vi.restoreAllMocks();
  await clearFaults();
});

/** Catalog reads of this test's own: its cache namespace, its database marker, its metrics. */
function catalog(backend: Backend, overrides: Partial<Env> = {}) {
  const namespace = newNamespace(`faults-${backend}`);
  const { marker, url } = markedDatabase("cat");
  const metrics = capturingMetrics();
  const read = async (path: string) => {
    const { res, ms } = await timed(
      { CACHE_BACKEND: backend, CACHE_NAMESPACE: namespace, DATABASE_URL: url, METRICS: metrics.binding, ...overrides },
      path,
    );
    const text = await res.clone().text();
    const degraded = metrics.points.at(-1)?.blobs?.[BLOB_FIELDS.indexOf("degraded")];
    return {
      res,
      ms,
      text,
      body: res.status === 200 ? (JSON.parse(text) as Product) : undefined,
      cache: res.headers.get("X-Cache"),
      degraded,
    };
  };
  return { namespace, marker, read };
}

describe.each<Backend>(["upstash", "kv"])("Postgres failing, CACHE_BACKEND=%s", (backend) => {
  it("serves an entry past the 5 s bound as STALE (stale-if-error), at once; 503 for what is not cached; exact again after recovery", async () => {
    quietLogs();
    const t = catalog(backend);
    const [id, uncached] = (await makeProducts([{ stock: 7 }, { stock: 1 }])) as [number, number];
    const first = await t.read(`/api/v1/products/${id}`);
    expect(first.cache).toBe("MISS");
    expect(first.body!.stock).toBe(7);

    await setSqlFault(t.marker, { failStatus: 503 });
    await db.update(products).set({ stock: 6 }).where(eq(products.id, id)); // behind the API's back, meanwhile
    advanceClock(MAX_AGE_MS + 1_000);

    const stale = await t.read(`/api/v1/products/${id}`);
    expect(stale.res.status).toBe(200);
    expect(stale.cache).toBe("STALE");
    expect(stale.text).toBe(first.text);
    expect(stale.res.headers.get("ETag")).toBe(first.res.headers.get("ETag"));
    expect(stale.res.headers.get("Cache-Control")).toBe("public, max-age=0"); // no one downstream keeps it
    expect(stale.degraded).toContain("db");
    expect(stale.ms).toBeLessThan(1_500);

    // Postgres is known to be failing now: served without waiting for it at all.
    const again = await t.read(`/api/v1/products/${id}`);
    expect(again.cache).toBe("STALE");
    expect(again.ms).toBeLessThan(500);

    const missing = await t.read(`/api/v1/products/${uncached}`);
    await expectServiceUnavailable(missing.res);
    expect(missing.ms).toBeLessThan(1_500);

    // Postgres is back: within two reads the data is exact again (the first may still be the stale
    // copy while a background load finds out).
    await clearFaults();
    advanceClock(MAX_AGE_MS + 1_000 + RETRY_AFTER_MS);
    await t.read(`/api/v1/products/${id}`);
    const recovered = await t.read(`/api/v1/products/${id}`);
    expect(recovered.res.status).toBe(200);
    expect(recovered.cache).not.toBe("STALE");
    expect(recovered.body!.stock).toBe(6);
  });

  it("never serves data older than STALE_IF_ERROR_MS: then 503", async () => {
    quietLogs();
    const t = catalog(backend);
    const [id] = (await makeProducts([{ stock: 7 }])) as [number];
    expect((await t.read(`/api/v1/products/${id}`)).cache).toBe("MISS");
    await setSqlFault(t.marker, { failStatus: 503 });

    advanceClock(STALE_IF_ERROR_MS - 2_000);
    expect((await t.read(`/api/v1/products/${id}`)).cache).toBe("STALE");
    advanceClock(STALE_IF_ERROR_MS + 1_000);
    await expectServiceUnavailable((await t.read(`/api/v1/products/${id}`)).res);
  });
});

describe("Postgres slow", () => {
  it("the first read waits for the database's read deadline, then STALE; the next one is STALE at once", { timeout: 20_000 }, async () => {
    quietLogs();
    const t = catalog("upstash");
    const [id] = (await makeProducts([{ stock: 7 }])) as [number];
    const first = await t.read(`/api/v1/products/${id}`);
    await setSqlFault(t.marker, { delayMs: READ_DEADLINE_MS + 2_000 });
    advanceClock(MAX_AGE_MS + 1_000);

    const slow = await t.read(`/api/v1/products/${id}`);
    expect(slow.cache).toBe("STALE");
    expect(slow.text).toBe(first.text);
    expect(slow.ms).toBeLessThan(READ_DEADLINE_MS + 1_000);
    // (Its background load probing Postgres still waits for the deadline, after the response.)
    const next = await t.read(`/api/v1/products/${id}`);
    expect(next.cache).toBe("STALE");
    expect(next.ms).toBeLessThan(300);
  });
});

describe("Postgres and Redis failing together", () => {
  it("still serves this isolate's copy as STALE under the catalog version it knew last", async () => {
    quietLogs();
    const t = catalog("upstash");
    const [id] = (await makeProducts([{ stock: 7 }])) as [number];
    const first = await t.read(`/api/v1/products/${id}`);
    await setRedisFault(t.namespace, { failStatus: 503 });
    await setSqlFault(t.marker, { failStatus: 503 });
    advanceClock(MAX_AGE_MS + 1_000);
    const stale = await t.read(`/api/v1/products/${id}`);
    expect(stale.cache).toBe("STALE");
    expect(stale.text).toBe(first.text);
    expect(stale.degraded).toBe("db,redis");
  });
});

describe("Redis slow, failing or unreachable", () => {
  const faults: Array<[string, (namespace: string) => Promise<Partial<Env>>]> = [
    [
      "slow (2 s per call)",
      async (namespace) => {
        await setRedisFault(namespace, { delayMs: 2_000 });
        return {};
      },
    ],
    [
      "failing (503)",
      async (namespace) => {
        await setRedisFault(namespace, { failStatus: 503 });
        return {};
      },
    ],
    ["unreachable", async () => ({ UPSTASH_REDIS_REST_URL: CLOSED })],
  ];

  it.each(faults)(
    "%s: reads come from Postgres (BYPASS), exact, quickly; logged once; every request says degraded: redis",
    { timeout: 20_000 },
    async (_, inject) => {
      const warn = quietLogs();
      const namespace = newNamespace("faults-redis");
      const overrides = await inject(namespace);
      const { url } = markedDatabase("redis");
      const metrics = capturingMetrics();
      const [id] = (await makeProducts([{ stock: 3 }])) as [number];
      for (let i = 0; i < 4; i++) {
        const { res, ms } = await timed(
          { CACHE_BACKEND: "upstash", CACHE_NAMESPACE: namespace, DATABASE_URL: url, METRICS: metrics.binding, ...overrides },
          `/api/v1/products/${id}`,
        );
        expect(res.status).toBe(200);
        expect(res.headers.get("X-Cache")).toBe("BYPASS");
        expect(((await res.json()) as Product).stock).toBe(3 + i);
        expect(ms).toBeLessThan(CALL_TIMEOUT_MS + 700);
        await db
          .update(products)
          .set({ stock: 4 + i })
          .where(eq(products.id, id));
      }
      expect(metrics.points.map((p) => p.blobs![BLOB_FIELDS.indexOf("degraded")])).toEqual(Array(4).fill("redis"));
      const failing = warn.mock.calls.filter(([line]) => String(line).includes("catalog cache layer failing"));
      expect(failing).toHaveLength(1);
      expect(JSON.parse(String(failing[0]![0]))).toMatchObject({ layer: "versions-redis", failures: 1 });
    },
  );
});

describe("Redis slow or failing after this isolate confirmed the catalog version", () => {
  /** Moves this isolate's clock so that it reads `ms` after `since` (a real time), whatever time has really passed. */
  const clockAt = (since: number, ms: number) => advanceClock(since + ms - realNow());

  it("keeps serving the last version for up to 5 s when the version store is slow", { timeout: 20_000 }, async () => {
    const warn = quietLogs();
    const t = catalog("upstash");
    const [id] = (await makeProducts([{ stock: 7 }])) as [number];
    const confirmed = realNow();
    const first = await t.read(`/api/v1/products/${id}`);
    expect(first.cache).toBe("MISS"); // the version is confirmed now, the entry in this isolate's memory
    await setRedisFault(t.namespace, { delayMs: 2_000 });

    // Past the version's 1 s TTL: the read asks Redis, which does not answer in time.
    clockAt(confirmed, VERSION_TTL_MS + 200);
    const slow = await t.read(`/api/v1/products/${id}`);
    expect(slow.cache).toBe("HIT");
    expect(slow.text).toBe(first.text);
    expect(slow.degraded).toBe("redis");
    expect(warn.mock.calls.filter(([line]) => String(line).includes("catalog cache layer failing"))).toHaveLength(1);
    // Skipped now: answered from the cache without waiting, still under the version confirmed before.
    // The entry's own age rules still apply, and Postgres answers: the stock view's check, started by
    // the read above (the entry's data was 1 s old), made it current again, so it is a HIT, not STALE.
    clockAt(confirmed, FRESH_MS + 500);
    const stale = await t.read(`/api/v1/products/${id}`);
    expect(stale.cache).toBe("HIT");
    expect(stale.text).toBe(first.text);
    expect(stale.degraded).toBe("redis");
    expect(stale.ms).toBeLessThan(CALL_TIMEOUT_MS);
    clockAt(confirmed, MAX_AGE_MS - 500);
    expect((await t.read(`/api/v1/products/${id}`)).cache).not.toBe("BYPASS");
  });

  it("bypasses once no version was confirmed for 5 s, and uses the cache again once Redis answers", { timeout: 20_000 }, async () => {
    quietLogs();
    const t = catalog("upstash");
    const [id] = (await makeProducts([{ stock: 7 }])) as [number];
    const confirmed = realNow();
    expect((await t.read(`/api/v1/products/${id}`)).cache).toBe("MISS");
    await setRedisFault(t.namespace, { failStatus: 503 });
    clockAt(confirmed, VERSION_TTL_MS + 200);
    expect((await t.read(`/api/v1/products/${id}`)).cache).toBe("HIT");

    await db.update(products).set({ stock: 6 }).where(eq(products.id, id)); // behind the API's back
    clockAt(confirmed, MAX_AGE_MS + 100);
    const bypass = await t.read(`/api/v1/products/${id}`);
    expect(bypass.cache).toBe("BYPASS");
    expect(bypass.body!.stock).toBe(6);
    expect(bypass.degraded).toBe("redis");

    // Redis answers again: a background read (at most one per VERSION_TTL_MS, made even while the layer
    // is still skipped after its failures) confirms the version, and reads use the cache again.
    await clearFaults();
    clockAt(confirmed, MAX_AGE_MS + VERSION_TTL_MS + 300);
    await vi.waitFor(async () => {
      const back = await t.read(`/api/v1/products/${id}`);
      expect(back.cache).not.toBe("BYPASS");
      expect(back.body!.stock).toBe(6);
    });
  });
});

describe("KV failing", () => {
  it("is a miss: the read comes from Postgres and fills the layers that work; degraded: kv", async () => {
    const warn = quietLogs();
    const broken = {
      get: () => Promise.reject(new Error("KV unavailable")),
      put: () => Promise.reject(new Error("KV unavailable")),
    } as unknown as KVNamespace;
    const t = catalog("kv", { CATALOG_KV: broken });
    const [id] = (await makeProducts([{ stock: 5 }])) as [number];
    const first = await t.read(`/api/v1/products/${id}`);
    expect(first.cache).toBe("MISS");
    expect(first.degraded).toBe("kv");
    const second = await t.read(`/api/v1/products/${id}`);
    expect(second.cache).toBe("HIT"); // from this isolate's memory
    expect(warn.mock.calls.filter(([line]) => String(line).includes('"layer":"kv"'))).toHaveLength(1);
  });
});
