/**
 * Specification of the per-request metrics (src/middleware/observe-requests.ts): one Analytics Engine
 * data point per request, a Server-Timing header on every response, and the same point to the local
 * metrics sink. Analytics Engine does not run locally, so METRICS is replaced by a recorder of
 * `writeDataPoint` calls (the binding's whole interface) through apiWithEnv. Cache outcomes are set by
 * a test route on the real middleware, so these tests do not depend on the catalog cache's state; the
 * tests that read the catalog insert their own product and read it under a cache namespace of their
 * own, so the answer is always 200 and a MISS with exactly one database round trip.
 */
import { env, createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createApp } from "../../src/app";
import { currentRequestStats, recordCacheLookup, type CacheStatus } from "../../src/observability/request-stats";
import {
  BLOB_FIELDS,
  DOUBLE_FIELDS,
  MAX_INDEX_BYTES,
  fromDataPoint,
  toDataPoint,
  type SinkRecord,
} from "../../src/observability/data-point";
import { apiWithEnv, type ErrorBody } from "../support/api";
import { insertProduct } from "../support/catalog";
import { CLOSED } from "../support/network";
import { countedDatabase } from "../support/round-trips";

const SERVER_TIMING =
  /^db;dur=\d+(\.\d)?;desc="\d+ quer(y|ies)", redis;desc="\d+ calls?", cache;dur=\d+(\.\d)?;desc="(HIT|MISS|STALE|BYPASS|NONE)", total;dur=\d+(\.\d)?$/;

// The failures provoked here log errors and warnings on purpose (test/middleware/logging.test.ts checks those lines).
beforeEach(() => {
  vi.spyOn(console, "error").mockImplementation(() => {});
  vi.spyOn(console, "warn").mockImplementation(() => {});
});
afterEach(() => {
  vi.restoreAllMocks();
});

type Recorder = { points: AnalyticsEngineDataPoint[]; METRICS: AnalyticsEngineDataset };

function recorder(): Recorder {
  const points: AnalyticsEngineDataPoint[] = [];
  return { points, METRICS: { writeDataPoint: (p?: AnalyticsEngineDataPoint) => void points.push(p!) } };
}

/** A request through the real app with a recording METRICS binding; the one point it wrote. */
async function requestWithPoint(path: string, init?: RequestInit, overrides: Partial<Env> = {}) {
  const rec = recorder();
  const res = await apiWithEnv({ ...overrides, METRICS: rec.METRICS }, path, init);
  expect(rec.points).toHaveLength(1);
  return { res, point: rec.points[0]!, named: fromDataPoint(rec.points[0] as Parameters<typeof fromDataPoint>[0]) };
}

/** Analytics Engine's limits and this layout's types. */
function expectValidPoint(point: AnalyticsEngineDataPoint): void {
  expect(point.indexes).toHaveLength(1);
  const index = point.indexes![0];
  expect(typeof index).toBe("string");
  expect(new TextEncoder().encode(index as string).length).toBeLessThanOrEqual(MAX_INDEX_BYTES);
  expect(point.blobs).toHaveLength(BLOB_FIELDS.length);
  for (const blob of point.blobs!) expect(typeof blob).toBe("string");
  const blobBytes = point.blobs!.reduce((n, b) => n + new TextEncoder().encode(b as string).length, 0);
  expect(blobBytes).toBeLessThanOrEqual(16 * 1024);
  expect(point.doubles).toHaveLength(DOUBLE_FIELDS.length);
  for (const d of point.doubles!) {
    expect(typeof d).toBe("number");
    expect(Number.isFinite(d)).toBe(true);
    expect(d).toBeGreaterThanOrEqual(0);
  }
  // The route blob repeats the index, so SQL can group by either.
  expect(point.blobs![1]).toBe(index);
}

/** The real app (its whole middleware chain and onError) with test routes: one reports a cache outcome, like the catalog cache does; two throw. */
function cacheTestApp() {
  return createApp({
    extraRoutes: (app) => {
      app.get("/cached/:id", (c) => {
        const status = c.req.query("status") as CacheStatus;
        recordCacheLookup("l0", false, 0.5);
        if (status !== "MISS") recordCacheLookup("cache-api", status === "HIT" || status === "STALE", 1.25);
        currentRequestStats()!.cacheStatus = status;
        return c.json({ id: c.req.param("id") });
      });
      app.get("/boom", () => {
        throw new Error("kaboom");
      });
      app.get("/throw-string", () => {
        // Some libraries throw strings or plain objects.
        throw "not an Error";
      });
    },
  });
}

/**
 * A product of the test's own, read through the app with a cache namespace of its own and a marked
 * database URL: the read is a cache MISS (nothing of that namespace is cached) answered from the
 * database, and `roundTrips` counts what the SQL server received for it. The Redis backend keeps the
 * catalog version in Redis, so the product query is the one round trip (KV mode reads the version
 * from the database too).
 */
async function readOwnProduct(overrides: Partial<Env> = {}) {
  const id = await insertProduct({ name: "metered" });
  const counted = countedDatabase("metrics");
  const namespace = `test:metrics:${crypto.randomUUID()}`;
  const bindings = { DATABASE_URL: counted.env.DATABASE_URL, CACHE_BACKEND: "upstash", CACHE_NAMESPACE: namespace, ...overrides };
  const read = await requestWithPoint(`/api/v1/products/${id}`, undefined, bindings);
  return { id, ...read, roundTrips: async () => (await counted.counts()).requests };
}

/** The exact outcome of reading one's own product: 200, a MISS and one database round trip, in the response and the point. */
async function expectOneRoundTripMiss(read: Awaited<ReturnType<typeof readOwnProduct>>): Promise<void> {
  expect(read.res.status, await read.res.clone().text()).toBe(200);
  expect(read.res.headers.get("X-Cache")).toBe("MISS");
  expect(read.named.cacheStatus).toBe("MISS");
  expect(read.named.dbRoundTrips).toBe(1);
  expect(await read.roundTrips()).toBe(1);
}

async function cacheTestRequest(path: string) {
  const rec = recorder();
  const ctx = createExecutionContext();
  const res = await cacheTestApp().fetch(new Request(`http://tenpo.localhost${path}`), { ...env, METRICS: rec.METRICS }, ctx);
  await waitOnExecutionContext(ctx);
  expect(rec.points).toHaveLength(1);
  return { res, point: rec.points[0]!, named: fromDataPoint(rec.points[0] as Parameters<typeof fromDataPoint>[0]) };
}

describe("the data point of a request", () => {
  it("has the layout index=route, blobs=[method, route, status, cache, colo, degraded], doubles=[duration, db trips, db ms, cache lookups, cache ms, redis trips]", async () => {
    const { res, point } = await requestWithPoint("/health");
    expect(res.status).toBe(200);
    expectValidPoint(point);
    expect(point.indexes).toEqual(["/health"]);
    expect(point.blobs).toEqual(["GET", "/health", "200", "NONE", "local", ""]);
    const [durationMs, dbRoundTrips, dbMs, cacheLookups, cacheMs, redisRoundTrips] = point.doubles!;
    expect(durationMs).toBeGreaterThanOrEqual(0);
    expect([dbRoundTrips, dbMs, cacheLookups, cacheMs, redisRoundTrips]).toEqual([0, 0, 0, 0, 0]);
  });

  it("names the route pattern, never the raw path, and counts the database round trips", async () => {
    const read = await readOwnProduct();
    const { point, named } = read;
    await expectOneRoundTripMiss(read);
    expectValidPoint(point);
    expect(point.indexes).toEqual(["/api/v1/products/:id"]);
    expect(named.route).toBe("/api/v1/products/:id");
    expect(JSON.stringify(point)).not.toContain(`/api/v1/products/${read.id}"`);
  });

  it("records a cache hit: status HIT, the lookups and their time", async () => {
    const { point, named } = await cacheTestRequest("/cached/7?status=HIT");
    expectValidPoint(point);
    expect(point.indexes).toEqual(["/cached/:id"]);
    expect(named).toMatchObject({
      method: "GET",
      route: "/cached/:id",
      status: 200,
      cacheStatus: "HIT",
      cacheLookups: 2,
      cacheMs: 1.75,
      dbRoundTrips: 0,
    });
  });

  it("records a cache miss", async () => {
    const { point, named } = await cacheTestRequest("/cached/7?status=MISS");
    expectValidPoint(point);
    expect(named).toMatchObject({ status: 200, cacheStatus: "MISS", cacheLookups: 1, cacheMs: 0.5 });
  });

  it.each(["STALE", "BYPASS"])("records a cache status %s", async (status) => {
    const { named } = await cacheTestRequest(`/cached/1?status=${status}`);
    expect(named.cacheStatus).toBe(status);
  });

  it("records a 4xx of a matched route with its pattern and status", async () => {
    const { res, point } = await requestWithPoint("/api/v1/products/not-a-number");
    expect(res.status).toBe(400);
    expectValidPoint(point);
    expect(point.indexes).toEqual(["/api/v1/products/:id"]);
    expect(point.blobs!.slice(0, 4)).toEqual(["GET", "/api/v1/products/:id", "400", "NONE"]);
  });

  it("records a request no route matched as 'unmatched' with its 404 (bounded cardinality)", async () => {
    const path = `/api/v1/nothing-here/${crypto.randomUUID()}`;
    const { res, point } = await requestWithPoint(path);
    expect(res.status).toBe(404);
    expectValidPoint(point);
    expect(point.indexes).toEqual(["unmatched"]);
    expect(point.blobs!.slice(0, 3)).toEqual(["GET", "unmatched", "404"]);
    expect(JSON.stringify(point)).not.toContain("nothing-here");
  });

  it("records a 5xx rendered by onError with the final status", async () => {
    const { res, point, named } = await requestWithPoint(
      "/api/v1/auth/login",
      {
        method: "POST",
        headers: { "Content-Type": "application/json", "CF-Connecting-IP": "2001:db8:5:5::1" },
        body: JSON.stringify({ username: `nobody-${crypto.randomUUID()}@example.com`, password: "password123" }),
      },
      { NEON_HTTP_ENDPOINT: `${CLOSED}/sql` },
    );
    // The database is down: the read's retries run out and the app answers 503 service_unavailable.
    expect(res.status).toBe(503);
    expect(((await res.json()) as ErrorBody).error.code).toBe("service_unavailable");
    expectValidPoint(point);
    expect(point.indexes).toEqual(["/api/v1/auth/login"]);
    expect(point.blobs!.slice(0, 3)).toEqual(["POST", "/api/v1/auth/login", String(res.status)]);
    // Every attempt is a round trip; how many fit in the read's time budget depends on the retry jitter.
    expect(named.dbRoundTrips).toBeGreaterThanOrEqual(1);
  });

  it("records an unexpected error as a 500", async () => {
    const { res, named } = await cacheTestRequest("/boom");
    expect(res.status).toBe(500);
    expect(named).toMatchObject({ route: "/boom", status: 500, cacheStatus: "NONE" });
  });

  it("records a thrown non-Error (which escapes onError) as a 500 and rethrows it unchanged", async () => {
    const rec = recorder();
    const ctx = createExecutionContext();
    const outcome = await Promise.resolve(
      cacheTestApp().fetch(new Request("http://tenpo.localhost/throw-string"), { ...env, METRICS: rec.METRICS }, ctx),
    ).then(
      () => "answered",
      (err: unknown) => err,
    );
    await waitOnExecutionContext(ctx);
    expect(outcome).toBe("not an Error");
    expect(rec.points).toHaveLength(1);
    expect(rec.points[0]!.blobs!.slice(0, 3)).toEqual(["GET", "/throw-string", "500"]);
  });

  it("takes the colo from the request's cf object when deployed (locally it is 'local')", async () => {
    const rec = recorder();
    const ctx = createExecutionContext();
    const request = new Request("http://tenpo.localhost/cached/1?status=MISS", { cf: { colo: "NRT" } } as RequestInit);
    // Settings a production deployment passes the config guard with (HTTPS stores, a real secret); the
    // test route reaches neither store nor the database.
    const production: Partial<Env> = {
      ENVIRONMENT: "production",
      JWT_SECRET: "a-production-grade-secret-of-more-than-32-characters",
      UPSTASH_REDIS_REST_URL: "https://cache.upstash.example",
      THROTTLE_REDIS_REST_URL: "https://throttle.upstash.example",
      NEON_HTTP_ENDPOINT: "",
      STRIPE_API_BASE: "",
    };
    const res = await cacheTestApp().fetch(request, { ...env, ...production, METRICS: rec.METRICS }, ctx);
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(200);
    expect(rec.points[0]!.blobs![4]).toBe("NRT");
  });
});

describe("a broken metrics binding", () => {
  it("does not fail the request when writeDataPoint throws", async () => {
    const METRICS = {
      writeDataPoint() {
        throw new Error("Analytics Engine is having a bad day");
      },
    };
    const res = await apiWithEnv({ METRICS }, "/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
    expect(res.headers.get("Server-Timing")).toMatch(SERVER_TIMING);
  });

  it("does not fail the request when the binding is missing", async () => {
    const res = await apiWithEnv({ METRICS: undefined }, "/api/v1/nothing");
    expect(res.status).toBe(404);
    expect(((await res.json()) as ErrorBody).error.code).toBe("not_found");
  });

  it("does not fail the request when the metrics sink is down", async () => {
    const rec = recorder();
    const res = await apiWithEnv({ METRICS: rec.METRICS, METRICS_SINK_URL: `${CLOSED}/points` }, "/health");
    expect(res.status).toBe(200);
    expect(rec.points).toHaveLength(1);
  });
});

describe("Server-Timing", () => {
  it("is on a success with the database's share", async () => {
    const res = await apiWithEnv({}, "/api/v1/categories");
    expect(res.status).toBe(200);
    const timing = res.headers.get("Server-Timing");
    expect(timing).toMatch(SERVER_TIMING);
  });

  it("counts the round trips of a database read", async () => {
    const rec = recorder();
    const res = await apiWithEnv({ METRICS: rec.METRICS }, "/health/ready");
    expect(res.status).toBe(200);
    const timing = res.headers.get("Server-Timing")!;
    expect(timing).toMatch(SERVER_TIMING);
    expect(timing).toMatch(/db;dur=[\d.]+;desc="1 query"/);
    // The header and the data point come from the same record.
    expect(rec.points[0]!.doubles![1]).toBe(1);
  });

  it("is on a 404", async () => {
    const res = await apiWithEnv({}, "/nope");
    expect(res.status).toBe(404);
    expect(res.headers.get("Server-Timing")).toMatch(SERVER_TIMING);
  });

  it("is on a 500, with the cache outcome", async () => {
    const ctx = createExecutionContext();
    const res = await cacheTestApp().fetch(new Request("http://tenpo.localhost/boom"), env, ctx);
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(500);
    expect(res.headers.get("Server-Timing")).toMatch(SERVER_TIMING);
    expect(res.headers.get("Server-Timing")).toContain('cache;dur=0;desc="NONE"');
  });

  it("shows a cache hit", async () => {
    const { res } = await cacheTestRequest("/cached/3?status=HIT");
    expect(res.headers.get("Server-Timing")).toMatch(
      /^db;dur=0;desc="0 queries", redis;desc="\d+ calls?", cache;dur=1\.8;desc="HIT", total;dur=[\d.]+$/,
    );
  });

  it("is readable cross-origin", async () => {
    const res = await apiWithEnv({}, "/health", { headers: { Origin: "https://shop.example" } });
    expect(res.headers.get("Access-Control-Expose-Headers")).toContain("Server-Timing");
  });
});

describe("the local metrics sink", () => {
  it("receives the same data point Analytics Engine gets, with a timestamp", async () => {
    const before = Date.now();
    const read = await readOwnProduct({ METRICS_SINK_URL: env.TEST_METRICS_SINK_URL });
    await expectOneRoundTripMiss(read);
    const stored = (await (await fetch(`${env.TEST_METRICS_SINK_URL}?since=${before - 1000}`)).json()) as SinkRecord[];
    const mine = stored.filter(
      (r) => JSON.stringify(r.doubles) === JSON.stringify(read.point.doubles) && r.indexes[0] === "/api/v1/products/:id",
    );
    expect(mine).toHaveLength(1);
    const { timestamp, ...point } = mine[0]!;
    expect(point).toEqual(read.point);
    expect(timestamp).toBeGreaterThanOrEqual(before - 1000);
  });
});

describe("toDataPoint", () => {
  const sample = {
    method: "GET",
    route: "/api/v1/products/:id",
    status: 200,
    cacheStatus: "HIT",
    colo: "NRT",
    degraded: "redis",
    durationMs: 12.3456,
    dbRoundTrips: 0,
    dbMs: 0,
    cacheLookups: 1,
    cacheMs: 0.4,
    redisRoundTrips: 2,
  };

  it("round-trips through fromDataPoint", () => {
    expect(fromDataPoint(toDataPoint(sample))).toEqual({ ...sample, durationMs: 12.35 });
  });

  it("keeps the index within 96 bytes without splitting a character", () => {
    const point = toDataPoint({ ...sample, route: `/${"é".repeat(100)}` });
    const bytes = new TextEncoder().encode(point.indexes[0]).length;
    expect(bytes).toBeLessThanOrEqual(96);
    expect(bytes).toBeGreaterThanOrEqual(95);
    expect(point.indexes[0]).not.toContain("\uFFFD");
  });

  it("bounds the method and the cache status to known values", () => {
    const point = toDataPoint({ ...sample, method: "BREW", cacheStatus: "WARM" });
    expect(point.blobs.slice(0, 4)).toEqual(["OTHER", "/api/v1/products/:id", "200", "NONE"]);
  });
});
