/**
 * Specification of the load tools' Server-Timing reader (load/server-timing.ts), held to what the
 * Worker writes: every header here comes from src/observability/server-timing.ts itself.
 */
import { describe, expect, it } from "vitest";
import { parseServerTiming, serverTimingDbCount, serverTimingRedisCount } from "../../load/server-timing";
import type { RequestSample } from "../../src/observability/data-point";
import { serverTiming } from "../../src/observability/server-timing";

function sample(dbRoundTrips: number, redisRoundTrips = 0): RequestSample {
  return {
    method: "GET",
    route: "/api/v1/carts/:id",
    status: 200,
    cacheStatus: "MISS",
    colo: "local",
    durationMs: 20.14,
    dbRoundTrips,
    dbMs: 12.46,
    cacheLookups: 1,
    cacheMs: 0.8,
    redisRoundTrips,
    degraded: "",
  };
}

describe("serverTimingDbCount", () => {
  it("reads the Worker's count of database round trips in detail mode, singular and plural", () => {
    expect(serverTimingDbCount(serverTiming(sample(0), "detail"))).toBe(0);
    expect(serverTimingDbCount(serverTiming(sample(1), "detail"))).toBe(1);
    expect(serverTimingDbCount(serverTiming(sample(3), "detail"))).toBe(3);
  });

  it("says null when the deployment sends the total only, or no header", () => {
    expect(serverTimingDbCount(serverTiming(sample(2), "total"))).toBeNull();
    expect(serverTimingDbCount(serverTiming(sample(2), "off"))).toBeNull();
    expect(serverTimingDbCount(undefined)).toBeNull();
    expect(serverTimingDbCount("")).toBeNull();
  });

  it("finds the db entry among other metrics, in any position, and across headers joined by commas", () => {
    expect(serverTimingDbCount(`edge;dur=1, ${serverTiming(sample(2), "detail")}`)).toBe(2);
    expect(serverTimingDbCount(`cdn-cache;desc="HIT", db;desc="4 queries"`)).toBe(4);
  });

  it("says null for a db entry whose description is not a count of queries", () => {
    expect(serverTimingDbCount('db;dur=3;desc="primary"')).toBeNull();
    expect(serverTimingDbCount("db;dur=3")).toBeNull();
    expect(serverTimingDbCount('db;desc="2 queries and more"')).toBeNull();
  });
});

describe("serverTimingRedisCount", () => {
  it("reads the Worker's count of Upstash REST requests in detail mode, singular and plural", () => {
    expect(serverTimingRedisCount(serverTiming(sample(1, 0), "detail"))).toBe(0);
    expect(serverTimingRedisCount(serverTiming(sample(1, 1), "detail"))).toBe(1);
    expect(serverTimingRedisCount(serverTiming(sample(1, 3), "detail"))).toBe(3);
  });

  it("says null without a redis entry: total only, no header, or a Worker that sends none", () => {
    expect(serverTimingRedisCount(serverTiming(sample(1, 2), "total"))).toBeNull();
    expect(serverTimingRedisCount(undefined)).toBeNull();
    expect(serverTimingRedisCount('db;dur=1;desc="1 query", cache;dur=0;desc="HIT"')).toBeNull();
    expect(serverTimingRedisCount('redis;desc="fast"')).toBeNull();
  });
});

describe("parseServerTiming", () => {
  it("splits the Worker's header into its four metrics with their durations and descriptions", () => {
    expect(parseServerTiming(serverTiming(sample(3, 2), "detail"))).toEqual([
      { name: "db", dur: 12.5, desc: "3 queries" },
      { name: "redis", dur: null, desc: "2 calls" },
      { name: "cache", dur: 0.8, desc: "MISS" },
      { name: "total", dur: 20.1, desc: null },
    ]);
  });

  it("keeps commas and semicolons inside quoted descriptions, and unescapes them", () => {
    expect(parseServerTiming('a;desc="x, y; z", b;dur=2;desc="say \\"hi\\""')).toEqual([
      { name: "a", dur: null, desc: "x, y; z" },
      { name: "b", dur: 2, desc: 'say "hi"' },
    ]);
  });

  it("skips empty entries and ignores parameters it does not know or cannot read", () => {
    expect(parseServerTiming(" , miss ;dur=abc;foo=1;flag , ")).toEqual([{ name: "miss", dur: null, desc: null }]);
  });
});
