/**
 * Specification of a request's stats record (src/observability/request-stats.ts): what the code deep in
 * the stack counts on the current request, and what it leaves out.
 */
import { describe, expect, it } from "vitest";
import {
  currentRequestStats,
  detachedFromRequest,
  newRequestStats,
  recordRedisRoundTrip,
  withRequestStats,
} from "../../src/observability/request-stats";

describe("the Redis round trips of a request", () => {
  it("count every Upstash REST request made while the request's record is current", async () => {
    const stats = newRequestStats();
    await withRequestStats(stats, async () => {
      recordRedisRoundTrip();
      await Promise.resolve();
      recordRedisRoundTrip();
    });
    expect(stats.redisRoundTrips).toBe(2);
  });

  it("leave out work detached from the request, such as a cache write the response does not wait for", async () => {
    const stats = newRequestStats();
    await withRequestStats(stats, async () => {
      recordRedisRoundTrip();
      const background = detachedFromRequest(async () => {
        expect(currentRequestStats()).toBeUndefined();
        await Promise.resolve();
        recordRedisRoundTrip();
      });
      await background;
      expect(currentRequestStats()).toBe(stats);
    });
    expect(stats.redisRoundTrips).toBe(1);
  });

  it("are not counted anywhere outside a request (queue consumers, cron)", () => {
    expect(currentRequestStats()).toBeUndefined();
    expect(() => recordRedisRoundTrip()).not.toThrow();
  });
});
