/**
 * Specification of the arithmetic behind `npm run metrics` (scripts/metrics-summary.ts): pure functions,
 * imported into workerd. The CLI around it only reads the file and filters by time.
 */
import { describe, expect, it } from "vitest";
import { toDataPoint, type RequestSample } from "../../src/observability/data-point";
import { formatSummary, parseMetricsLines, percentile, summarize, type TimedSample } from "../../scripts/metrics-summary";

const base: RequestSample = {
  method: "GET",
  route: "/api/v1/products",
  status: 200,
  cacheStatus: "NONE",
  colo: "local",
  degraded: "",
  durationMs: 10,
  dbRoundTrips: 1,
  dbMs: 5,
  cacheLookups: 0,
  cacheMs: 0,
  redisRoundTrips: 0,
};
const T0 = Date.UTC(2026, 10, 28, 9, 0, 0);
const sample = (overrides: Partial<TimedSample> = {}): TimedSample => ({ ...base, timestamp: T0, ...overrides });

describe("percentile", () => {
  const values = Array.from({ length: 100 }, (_, i) => i + 1);

  it("is the nearest-rank value", () => {
    expect(percentile(values, 0.5)).toBe(50);
    expect(percentile(values, 0.95)).toBe(95);
    expect(percentile(values, 0.99)).toBe(99);
    expect(percentile(values, 1)).toBe(100);
    expect(percentile([7], 0.99)).toBe(7);
    expect(percentile([1, 2, 3], 0)).toBe(1);
    expect(percentile([], 0.5)).toBeNaN();
  });
});

describe("summarize", () => {
  it("gives per-route counts, rates, percentiles, error rates, hit ratio and round trips", () => {
    const list: TimedSample[] = [];
    // 10 s of traffic: 20 list requests (two 5xx, one 4xx), 10 detail requests (cache: 6 HIT, 1 STALE, 2 MISS, 1 BYPASS).
    for (let i = 0; i < 20; i++) {
      list.push(sample({ timestamp: T0 + i * 500, durationMs: i + 1, status: i < 2 ? 500 : i === 2 ? 404 : 200, dbRoundTrips: i % 2 }));
    }
    const cache = ["HIT", "HIT", "HIT", "HIT", "HIT", "HIT", "STALE", "MISS", "MISS", "BYPASS"];
    for (const [i, cacheStatus] of cache.entries()) {
      list.push(
        sample({
          route: "/api/v1/products/:id",
          timestamp: T0 + 10_000 - i,
          cacheStatus,
          durationMs: 2,
          dbRoundTrips: cacheStatus === "MISS" ? 1 : 0,
        }),
      );
    }
    const summary = summarize(list)!;
    expect(summary.spanSeconds).toBe(10);
    expect(summary.routes.map((r) => r.name)).toEqual(["GET /api/v1/products", "GET /api/v1/products/:id"]);
    const [products, detail] = summary.routes;
    expect(products).toMatchObject({
      count: 20,
      reqPerSec: 2,
      p50: 10,
      p95: 19,
      p99: 20,
      error5xxPct: 10,
      error4xxPct: 5,
      cacheHitPct: null,
      meanDbRoundTrips: 0.5,
    });
    expect(detail).toMatchObject({ count: 10, reqPerSec: 1, p50: 2, error5xxPct: 0, meanDbRoundTrips: 0.2 });
    // (6 HIT + 1 STALE) / (6 + 1 + 2 MISS); BYPASS is left out.
    expect(detail!.cacheHitPct).toBeCloseTo((100 * 7) / 9, 10);
    expect(summary.total).toMatchObject({ name: "all", count: 30, reqPerSec: 3 });
  });

  it("separates methods of one route pattern and counts a short burst over at least one second", () => {
    const summary = summarize([sample(), sample({ method: "POST", status: 201 }), sample({ method: "POST", status: 422 })])!;
    expect(summary.spanSeconds).toBe(1);
    expect(summary.routes.map((r) => [r.name, r.count])).toEqual([
      ["POST /api/v1/products", 2],
      ["GET /api/v1/products", 1],
    ]);
    expect(summary.routes[0]!.error4xxPct).toBe(50);
  });

  it("is null without samples", () => {
    expect(summarize([])).toBeNull();
  });
});

describe("parseMetricsLines", () => {
  it("reads the sink's lines back into samples and counts malformed ones", () => {
    const point = toDataPoint({ ...base, status: 503, cacheStatus: "MISS", durationMs: 42.5 });
    const text = [JSON.stringify({ timestamp: T0, ...point }), "{torn", JSON.stringify({ hello: 1 }), ""].join("\n");
    const { samples, skipped } = parseMetricsLines(text);
    expect(skipped).toBe(2);
    expect(samples).toEqual([{ ...base, status: 503, cacheStatus: "MISS", durationMs: 42.5, timestamp: T0 }]);
  });
});

describe("formatSummary", () => {
  it("prints an aligned table, busiest route first, total last", () => {
    const list = [
      sample({ durationMs: 5 }),
      sample({ durationMs: 15, timestamp: T0 + 2000 }),
      sample({ route: "unmatched", status: 404, dbRoundTrips: 0, timestamp: T0 + 1000 }),
    ];
    const text = formatSummary(summarize(list), { minutes: 15 });
    const rows = text.split("\n");
    expect(rows[0]).toBe("3 requests in the last 15 min; traffic from 09:00:00 to 09:00:02 (2.0 s, req/s over that span)");
    expect(rows[2]).toMatch(/^route\s+count\s+req\/s\s+p50 ms\s+p95 ms\s+p99 ms\s+5xx %\s+4xx %\s+hit %\s+db trips\s+db ms$/);
    expect(rows[4]).toMatch(/^GET \/api\/v1\/products\s+2\s+1\.0\s+5\.0\s+15\.0\s+15\.0\s+0\.0\s+0\.0\s+-\s+1\.00\s+5\.0$/);
    expect(rows[5]).toMatch(/^GET unmatched\s+1\s+0\.5\s/);
    expect(rows.at(-1)).toMatch(/^all\s+3\s+1\.5\s/);
    // Columns line up: every row of the table is as wide as the rule under the header, or narrower only by trimmed blanks.
    expect(new Set(rows.slice(2).map((r) => r.search(/\S+$/) + r.match(/\S+$/)![0].length)).size).toBe(1);
  });

  it("says so when there is nothing in the window", () => {
    expect(formatSummary(null, { minutes: 5 })).toBe("No requests recorded in the last 5 min.");
  });
});
