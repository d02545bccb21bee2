/**
 * Specification of the bench's storefront figures (scripts/bench/report.ts, scripts/bench/targets.ts):
 * the phase's row and section in the report, and its two targets, from a recorded run.
 */
import { describe, expect, it } from "vitest";
import { STOREFRONT_STEPS, storefrontRecorder, type StorefrontResult } from "../../../load/storefront";
import { phaseTable, storefrontSection, type BenchReport, type StorefrontRun, type StorefrontSkipped } from "../../../scripts/bench/report";
import { evaluateTargets, type TargetResult } from "../../../scripts/bench/targets";

const CART_TARGET = "storefront cart_create, cart_put, cart_get: 1 database round trip each (Server-Timing), every response";
const CHECKOUT_TARGET = "storefront checkout: ≤ 2 database round trips in the request (Server-Timing), every response";
const PAID_TARGET = "storefront: paid ≤ 1 s after Stripe's answer, p95 (paid_wait)";

/** A storefront run whose checkouts said `checkoutRoundTrips` and whose payments were seen paid after `paidMs`. */
function run(
  opts: { cartRoundTrips?: Array<number | null>; checkoutRoundTrips?: Array<number | null>; paidMs?: number[]; notPaid?: number } = {},
): StorefrontRun {
  const r = storefrontRecorder();
  for (const n of opts.cartRoundTrips ?? [1, 1]) {
    r.record("cart_create", 201, 5, undefined, { dbRoundTrips: n });
    r.record("cart_put", 200, 5, undefined, { dbRoundTrips: n });
    r.record("cart_put", 409, 5, undefined, { code: "insufficient_stock", expected: true, dbRoundTrips: n });
    r.record("cart_get", 200, 5, undefined, { dbRoundTrips: 1 });
  }
  const checkouts = opts.checkoutRoundTrips ?? [2, 2, 2, 1];
  for (const [i, n] of checkouts.entries()) {
    const short = i === checkouts.length - 1 && n === 1;
    r.record(
      "checkout",
      short ? 409 : 201,
      20,
      undefined,
      short ? { code: "insufficient_stock", expected: true, dbRoundTrips: n } : { dbRoundTrips: n },
    );
  }
  for (const ms of opts.paidMs ?? [150, 160, 170]) r.record("paid_wait", 200, ms, undefined, { dbRoundTrips: 2 });
  for (let i = 0; i < (opts.notPaid ?? 0); i++) r.record("paid_wait", "not_paid", 10_000, undefined, { dbRoundTrips: 200 });
  const result: StorefrontResult = {
    scenario: "storefront",
    target: "http://127.0.0.1:8797",
    stripe_api_base: "http://127.0.0.1:40000",
    users: 3,
    spawn_rate: 100,
    duration_s: 5,
    started_at: "2026-12-01T12:00:00.000Z",
    window_s: 5,
    users_started: 3,
    logins_failed: 0,
    endpoints: r.summary(5, STOREFRONT_STEPS),
    overall: r.overall(5),
    catalog_hit_ratio: r.catalogHitRatio(),
    flows: {
      started: 4,
      checked_out: 3,
      payments_confirmed: 3,
      completed: 3,
      completed_per_s: 0.6,
      not_paid: opts.notPaid ?? 0,
      ended_at: { checkout: 1 },
      insufficient_stock: { cart_put: 0, checkout: 1, cart_put_rate: 0, checkout_rate: 0.25 },
      duration_ms: { p50: 210, p95: 260, p99: 270 },
      polls_per_wait: 2,
    },
    timeline: r.timeline(),
  };
  return {
    label: "storefront user, 3 users, no think time, 5 s",
    skipped: null,
    result,
    db_round_trips_per_request: 1.4,
    cache_round_trips_per_request: 0.2,
    cpu_ms_per_request: { worker: 1.1, host: 0.01, services: 0.3, datastores: 0.9 },
    other_load_cores: 0.25,
    settle: { quiet: true, waited_s: 3.1 },
    db_round_trips_per_purchase: 14.33,
  };
}

function report(storefront: StorefrontRun | StorefrontSkipped | null): BenchReport {
  const hello = { start_rps: 1000, end_rps: 1000, used_rps: 1000, drift: 0 };
  return {
    started_at: "2026-12-01T12:00:00.000Z",
    finished_at: "2026-12-01T12:05:00.000Z",
    elapsed_s: 300,
    machine: {},
    serving_path: {
      description: "",
      differences_from_npm_start: [],
      request_log: "",
      metrics_sink: "",
      app_vars: {},
      bare_workerd_config: null,
    },
    settings: {},
    hello: { miniflare: hello, workerd: hello },
    round_trips: null,
    phases: [],
    mix_probe: null,
    mixed: [],
    storefront,
    cost: null,
    targets: [],
  };
}

const target = (targets: TargetResult[], name: string): TargetResult | undefined => targets.find((t) => t.target === name);

describe("the bench report's storefront", () => {
  it("has a row in the phase table with its req/s, share of the hello world, round trips under load and CPU", () => {
    const row = phaseTable(report(run()))
      .split("\n")
      .find((line) => line.startsWith("| storefront user"));
    expect(row).toBe(
      "| storefront user, 3 users, no think time, 5 s | 2.4 | 0 % | 5 | 20 | 20 | 0 | — | — | — | 1.4 | 0.2 | 1.1 | 0.01 | 0.3 | 0.9 | 0.25 | catalog n/a: no successful reads |",
    );
  });

  it("has a section with the per-step table, the purchases and the database's round trips per purchase", () => {
    const section = storefrontSection(run());
    expect(section).toContain("**storefront user, 3 users, no think time, 5 s** (3 users, spawn 100/s, 5 s");
    expect(section).toContain("| checkout | `POST /api/v1/carts/{id}/checkout` | 4 |");
    expect(section).toContain("1 (25.00 %) | mean 1.75 (1: 1, 2: 3) |");
    expect(section).toContain("**3 paid (0.6 per second over 5 s)**");
    expect(section).toContain("1.4 round trips per request, 14.33 per purchase paid.");
  });

  it("says why when the phase could not run, in the table and the section", () => {
    const skipped = { label: "storefront user, 3 users, no think time, 5 s", skipped: "n/a: POST /api/v1/carts answered 404 (…)" };
    expect(phaseTable(report(skipped))).toContain(
      "| storefront user, 3 users, no think time, 5 s | n/a: POST /api/v1/carts answered 404 (…) |",
    );
    expect(storefrontSection(skipped)).toBe("**storefront user, 3 users, no think time, 5 s**: n/a: POST /api/v1/carts answered 404 (…)");
    expect(storefrontSection(null)).toBe("");
  });
});

describe("the storefront targets", () => {
  it("pass when every checkout made at most 2 round trips and payments read paid within 1 s at p95", () => {
    const targets = evaluateTargets(report(run()));
    expect(target(targets, CHECKOUT_TARGET)).toEqual({
      target: CHECKOUT_TARGET,
      measured: 'at most 2, mean 1.75 over 4 responses {"1":1,"2":3} (statuses {"201":3,"409 insufficient_stock":1})',
      verdict: "PASS",
    });
    expect(target(targets, PAID_TARGET)).toEqual({
      target: PAID_TARGET,
      measured: "p95 170 ms, p50 160, p99 170 over 3 payments, 0 not paid within 10 s",
      verdict: "PASS",
    });
  });

  it("pass when every cart_create, cart_put and cart_get answered with 1 round trip, 409s included", () => {
    expect(target(evaluateTargets(report(run())), CART_TARGET)).toEqual({
      target: CART_TARGET,
      measured: 'cart_create {"1":2}; cart_put {"1":4}; cart_get {"1":2}',
      verdict: "PASS",
    });
  });

  it("miss when a cart step made 2 round trips or one response had no count, and are n/a when a step had no count at all", () => {
    expect(target(evaluateTargets(report(run({ cartRoundTrips: [1, 2] }))), CART_TARGET)).toMatchObject({
      verdict: "MISS",
      measured: 'cart_create {"1":1,"2":1}; cart_put {"1":2,"2":2}; cart_get {"1":2}',
    });
    expect(target(evaluateTargets(report(run({ cartRoundTrips: [1, null] }))), CART_TARGET)).toMatchObject({
      verdict: "MISS",
      measured: 'cart_create {"1":1} (1 without a count); cart_put {"1":2} (2 without a count); cart_get {"1":2}',
    });
    expect(target(evaluateTargets(report(run({ cartRoundTrips: [null] }))), CART_TARGET)).toMatchObject({
      verdict: "n/a",
      measured: "n/a: no Server-Timing db count for cart_create, cart_put",
    });
  });

  it("miss when one checkout made 3 round trips, or one had no count to judge by", () => {
    expect(target(evaluateTargets(report(run({ checkoutRoundTrips: [2, 3, 2] }))), CHECKOUT_TARGET)?.verdict).toBe("MISS");
    const uncounted = target(evaluateTargets(report(run({ checkoutRoundTrips: [2, null, 2] }))), CHECKOUT_TARGET);
    expect(uncounted).toMatchObject({ verdict: "MISS" });
    expect(uncounted?.measured).toContain("1 without a count");
  });

  it("miss when payments are not seen paid in time: a not_paid counts with its 10 s", () => {
    const slow = target(evaluateTargets(report(run({ paidMs: [150, 1200, 1300] }))), PAID_TARGET);
    expect(slow).toMatchObject({ verdict: "MISS", measured: "p95 1300 ms, p50 1200, p99 1300 over 3 payments, 0 not paid within 10 s" });
    const lost = target(evaluateTargets(report(run({ paidMs: [150], notPaid: 1 }))), PAID_TARGET);
    expect(lost).toMatchObject({ verdict: "MISS", measured: "p95 10000 ms, p50 150, p99 10000 over 2 payments, 1 not paid within 10 s" });
  });

  it("are n/a, with the reason, when the phase did not run or measured nothing to judge", () => {
    const skipped = evaluateTargets(report({ label: "storefront", skipped: "n/a: POST /api/v1/carts answered 404 (…)" }));
    expect(target(skipped, CHECKOUT_TARGET)).toMatchObject({ verdict: "n/a", measured: "n/a: POST /api/v1/carts answered 404 (…)" });
    expect(target(skipped, PAID_TARGET)).toMatchObject({ verdict: "n/a" });
    expect(target(skipped, CART_TARGET)).toMatchObject({ verdict: "n/a" });
    expect(target(evaluateTargets(report(null)), PAID_TARGET)).toMatchObject({ verdict: "n/a", measured: "not run" });
    const nothing = evaluateTargets(report(run({ checkoutRoundTrips: [], paidMs: [] })));
    expect(target(nothing, CHECKOUT_TARGET)).toMatchObject({ verdict: "n/a", measured: "n/a: no checkout was sent" });
    expect(target(nothing, PAID_TARGET)).toMatchObject({ verdict: "n/a", measured: "n/a: no payment was confirmed" });
  });
});
