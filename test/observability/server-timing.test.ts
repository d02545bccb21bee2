/**
 * Specification of how much timing the `Server-Timing` header shows (SERVER_TIMING,
 * src/observability/server-timing.ts): all of it locally and in tests, the total or nothing when
 * deployed. The bindings of the test run say "detail"; other modes go through apiWithEnv.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { RequestSample } from "../../src/observability/data-point";
import { serverTiming, serverTimingMode } from "../../src/observability/server-timing";
import { apiWithEnv } from "../support/api";

const SAMPLE: RequestSample = {
  method: "GET",
  route: "/api/v1/products/:id",
  status: 200,
  cacheStatus: "MISS",
  colo: "local",
  durationMs: 20.14,
  dbRoundTrips: 3,
  dbMs: 12.46,
  cacheLookups: 2,
  cacheMs: 0.83,
  redisRoundTrips: 2,
  degraded: "",
};

describe("the mode", () => {
  it("is detail or total when configured so, and off for off, unset or anything else", () => {
    expect(serverTimingMode({ SERVER_TIMING: "detail" })).toBe("detail");
    expect(serverTimingMode({ SERVER_TIMING: "total" })).toBe("total");
    for (const value of ["off", undefined, "", "DETAIL", "on", "true"])
      expect(serverTimingMode({ SERVER_TIMING: value }), String(value)).toBe("off");
  });

  it("is detail in the test run's (and local) configuration", () => {
    expect(serverTimingMode(env)).toBe("detail");
  });
});

describe("the header's value", () => {
  it("in detail: database time and queries, Redis calls, cache time and outcome, total", () => {
    expect(serverTiming(SAMPLE, "detail")).toBe(
      'db;dur=12.5;desc="3 queries", redis;desc="2 calls", cache;dur=0.8;desc="MISS", total;dur=20.1',
    );
    expect(serverTiming({ ...SAMPLE, dbRoundTrips: 1 }, "detail")).toContain('desc="1 query"');
    expect(serverTiming({ ...SAMPLE, redisRoundTrips: 1 }, "detail")).toContain('redis;desc="1 call"');
  });

  it("in total: the total alone", () => {
    expect(serverTiming(SAMPLE, "total")).toBe("total;dur=20.1");
  });

  it("off: none", () => {
    expect(serverTiming(SAMPLE, "off")).toBeUndefined();
  });
});

describe("responses", () => {
  it("carry the detail by default", async () => {
    const res = await apiWithEnv({}, "/health/ready");
    expect(res.headers.get("Server-Timing")).toMatch(
      /^db;dur=[\d.]+;desc="1 query", redis;desc="0 calls", cache;dur=[\d.]+;desc="NONE", total;dur=[\d.]+$/,
    );
  });

  it("count each Upstash REST request the response waited on: the readiness check's ping is one", async () => {
    const res = await apiWithEnv({ CACHE_BACKEND: "upstash" }, "/health/ready");
    expect(res.status).toBe(200);
    expect(res.headers.get("Server-Timing")).toContain('redis;desc="1 call"');
  });

  it("carry the total alone with SERVER_TIMING=total, on successes and errors", async () => {
    for (const path of ["/health/ready", "/api/v1/categories", "/api/v1/nothing"]) {
      const res = await apiWithEnv({ SERVER_TIMING: "total" }, path);
      expect(res.headers.get("Server-Timing"), path).toMatch(/^total;dur=[\d.]+$/);
    }
  });

  it("carry none with SERVER_TIMING=off, on successes and errors", async () => {
    for (const path of ["/health/ready", "/api/v1/categories", "/api/v1/products?q=ab", "/api/v1/nothing"]) {
      const res = await apiWithEnv({ SERVER_TIMING: "off" }, path);
      expect(res.headers.has("Server-Timing"), path).toBe(false);
    }
  });
});
