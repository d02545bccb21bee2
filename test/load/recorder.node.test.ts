/**
 * Specification of the load tools' recorder (load/recorder.ts): per-step outcomes with the API's error
 * codes, expected outcomes kept apart from errors, and the Worker's database round trips per step.
 */
import { describe, expect, it } from "vitest";
import { Recorder, isError } from "../../load/recorder";
import { errorText } from "../../load/report";

describe("Recorder", () => {
  it("keys a response by its status and the API's error code when the caller gives one", () => {
    const r = new Recorder();
    r.record("cart_put", 200, 5);
    r.record("cart_put", 409, 6, undefined, { code: "cart_full" });
    r.record("cart_put", 409, 7, undefined, { code: "insufficient_stock", expected: true });
    const [put] = r.summary(1);
    expect(put!.statuses).toEqual({ "200": 1, "409 cart_full": 1, "409 insufficient_stock": 1 });
  });

  it("does not count an expected outcome as an error, and lists it apart", () => {
    const r = new Recorder();
    r.record("checkout", 201, 10);
    r.record("checkout", 409, 8, undefined, { code: "insufficient_stock", expected: true });
    r.record("checkout", 409, 8, undefined, { code: "insufficient_stock", expected: true });
    r.record("checkout", 503, 9, undefined, { code: "payment_unavailable" });
    const [checkout] = r.summary(1);
    expect(checkout!.errors).toBe(1);
    expect(checkout!.expected).toEqual({ "409 insufficient_stock": 2 });
    expect(errorText(checkout!)).toBe("1 (503 payment_unavailable: 1)");
    const all = r.overall(1);
    expect(all.errors).toBe(1);
    expect(all.expected).toEqual({ "409 insufficient_stock": 2 });
    expect(r.timeline().reduce((n, p) => n + p.errors, 0)).toBe(1);
  });

  it("counts a transport failure and a named non-HTTP outcome as errors", () => {
    const r = new Recorder();
    r.record("pay", "ECONNREFUSED", 1);
    r.record("paid_wait", "not_paid", 10_000);
    expect(r.summary(1).map((s) => s.errors)).toEqual([1, 1]);
    expect(r.overall(1).errors).toBe(2);
  });

  it("sums up the Worker's round-trip counts per step: histogram, mean, range and responses without a count", () => {
    const r = new Recorder();
    for (const n of [2, 2, 2, 3]) r.record("checkout", 201, 10, undefined, { dbRoundTrips: n });
    r.record("checkout", 201, 10, undefined, { dbRoundTrips: null });
    r.record("checkout", "ECONNRESET", 10);
    r.record("pay", 200, 3);
    const [checkout, pay] = r.summary(1, ["checkout", "pay"]);
    expect(checkout!.db_round_trips).toEqual({ counted: 4, without: 1, total: 9, mean: 2.25, min: 2, max: 3, counts: { "2": 3, "3": 1 } });
    expect(pay!.db_round_trips).toBeNull();
    expect(r.overall(1).db_round_trips).toMatchObject({ counted: 4, without: 2, total: 9 });
  });

  it("keeps the Locust user's summaries as they were: no expected outcomes, no counts when none were given", () => {
    const r = new Recorder(new Set(["list"]));
    r.record("list", 200, 3, "HIT");
    r.record("list", 404, 3);
    const [list] = r.summary(1);
    expect(list).toMatchObject({ errors: 1, statuses: { "200": 1, "404": 1 }, expected: {}, db_round_trips: null, hit_ratio: 1 });
  });
});

describe("Recorder with waits", () => {
  it("summarizes a wait like any step but leaves it out of the totals, the overall row and the timeline's counts", () => {
    const r = new Recorder(new Set(), new Set(["paid_wait"]));
    r.record("order_poll", 200, 3, undefined, { dbRoundTrips: 1 });
    r.record("order_poll", 200, 3, undefined, { dbRoundTrips: 1 });
    r.record("paid_wait", "not_paid", 10_000, undefined, { dbRoundTrips: 2 });
    expect(r.total).toBe(2);
    expect(r.summary(1, ["paid_wait", "order_poll"]).map((s) => [s.endpoint, s.requests, s.errors])).toEqual([
      ["paid_wait", 1, 1],
      ["order_poll", 2, 0],
    ]);
    expect(r.overall(1)).toMatchObject({ requests: 2, errors: 0, db_round_trips: { total: 2 } });
    const [second] = r.timeline();
    expect(second).toMatchObject({ requests: 2, errors: 0 });
    expect(Object.keys(second!.p95_ms).sort()).toEqual(["order_poll", "paid_wait"]);
  });
});

describe("isError", () => {
  it("is true from 400 up, with or without an error code, and for anything that is not an HTTP status", () => {
    expect(["200", "201", "304", "200 ok"].map(isError)).toEqual([false, false, false, false]);
    expect(["400", "409 insufficient_stock", "503", "ECONNRESET", "not_paid", "transport_errors"].every(isError)).toBe(true);
  });
});
