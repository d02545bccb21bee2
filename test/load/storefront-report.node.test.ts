/**
 * Specification of the storefront user's report (load/storefront-report.ts): the per-step table with
 * its round trips (Server-Timing) and 409 insufficient_stock rates, the purchases line, and the files.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Recorder } from "../../load/recorder";
import { STOREFRONT_STEPS, storefrontRecorder, type FlowSummary, type StorefrontResult } from "../../load/storefront";
import {
  purchasesText,
  roundTripsText,
  storefrontMarkdown,
  storefrontStepTable,
  writeStorefrontReport,
} from "../../load/storefront-report";

const STOCK = { code: "insufficient_stock", expected: true } as const;

/**
 * A run of 10 purchases as the storefront records them: one PUT and one checkout short of stock, one
 * payment refused, 8 seen paid after two order reads each.
 */
function recordedRun(): Recorder {
  const r = storefrontRecorder();
  for (let i = 0; i < 10; i++) {
    r.record("browse", 200, 2, "HIT", { dbRoundTrips: 0 });
    r.record("product", 200, 3, i < 5 ? "HIT" : "MISS", { dbRoundTrips: i < 5 ? 0 : 1 });
    r.record("cart_create", 201, 8, undefined, { dbRoundTrips: 1 });
    r.record("cart_put", i === 0 ? 409 : 200, 9, undefined, i === 0 ? { ...STOCK, dbRoundTrips: 1 } : { dbRoundTrips: 1 });
    r.record("cart_get", 200, 4, undefined, { dbRoundTrips: 1 });
  }
  for (let i = 0; i < 9; i++) r.record("checkout", 201, 30, undefined, { dbRoundTrips: 2 });
  r.record("checkout", 409, 12, undefined, { ...STOCK, dbRoundTrips: 1 });
  for (let i = 0; i < 8; i++) r.record("pay", 200, 5);
  r.record("pay", 503, 5, undefined, { code: "api_error" });
  for (let i = 0; i < 8; i++) {
    r.record("order_poll", 200, 4, undefined, { dbRoundTrips: 1 });
    r.record("order_poll", 200, 4, undefined, { dbRoundTrips: 1 });
    r.record("paid_wait", 200, 150, undefined, { dbRoundTrips: 2 });
  }
  r.record("cart_remove", 200, 6, undefined, { dbRoundTrips: 1 });
  return r;
}

function flows(overrides: Partial<FlowSummary> = {}): FlowSummary {
  return {
    started: 10,
    checked_out: 9,
    payments_confirmed: 8,
    completed: 8,
    completed_per_s: 1.6,
    not_paid: 0,
    ended_at: { checkout: 1, pay: 1 },
    insufficient_stock: { cart_put: 1, checkout: 1, cart_put_rate: 0.05, checkout_rate: 0.1 },
    duration_ms: { p50: 210, p95: 260, p99: 270 },
    polls_per_wait: 2,
    ...overrides,
  };
}

function result(r = recordedRun(), f = flows()): StorefrontResult {
  return {
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
    flows: f,
    timeline: r.timeline(),
  };
}

const rowOf = (table: string, step: string): string => table.split("\n").find((line) => line.startsWith(`| ${step} |`)) ?? "";

describe("storefrontStepTable", () => {
  it("has one row per step in the order a purchase makes them, then all together", () => {
    const steps = storefrontStepTable(result())
      .split("\n")
      .slice(2)
      .map((line) => line.split(" | ")[0]!.replace(/^\| /, ""));
    expect(steps).toEqual([
      "browse",
      "product",
      "cart_create",
      "cart_put",
      "cart_get",
      "checkout",
      "pay",
      "paid_wait",
      "order_poll",
      "cart_remove",
      "**all**",
    ]);
  });

  it("shows 409 insufficient_stock apart from errors, with its rate, at cart_put and checkout", () => {
    const table = storefrontStepTable(result());
    expect(rowOf(table, "cart_put")).toBe(
      "| cart_put | `PUT /api/v1/carts/{id}/items/{product_id}` | 10 | 2 | 9 | 9 | 9 | 0 | 0.00 % | 1 (10.00 %) | 1 (all 10) |",
    );
    expect(rowOf(table, "checkout")).toBe(
      "| checkout | `POST /api/v1/carts/{id}/checkout` | 10 | 2 | 30 | 30 | 30 | 0 | 0.00 % | 1 (10.00 %) | mean 1.9 (1: 1, 2: 9) |",
    );
  });

  it("names the errors by status and code, and says that pay is not the API's", () => {
    expect(rowOf(storefrontStepTable(result()), "pay")).toBe(
      "| pay | `POST {stripe}/v1/payment_intents/{id}/confirm` | 9 | 1.8 | 5 | 5 | 5 | 1 (503 api_error: 1) | 11.11 % |  | n/a: Stripe, not the API |",
    );
  });

  it("counts every request of the run in the last row, the order reads but not the waits made of them, the expected 409s not among its errors", () => {
    const cells = rowOf(storefrontStepTable(result()), "**all**").split(" | ");
    // requests, req/s, then after the three percentiles: errors and error rate.
    expect([cells[2], cells[3], cells[7], cells[8]]).toEqual(["86", "17.2", "1 (503 api_error: 1)", "1.16 %"]);
  });
});

describe("roundTripsText", () => {
  it("gives the one count all responses said, or the mean and histogram, and the responses without one", () => {
    expect(roundTripsText("cart_get", { counted: 5, without: 0, total: 5, mean: 1, min: 1, max: 1, counts: { "1": 5 } })).toBe("1 (all 5)");
    expect(roundTripsText("product", { counted: 4, without: 1, total: 2, mean: 0.5, min: 0, max: 1, counts: { "1": 2, "0": 2 } })).toBe(
      "mean 0.5 (0: 2, 1: 2); 1 without a count",
    );
    expect(roundTripsText("cart_get", null)).toBe("n/a: no Server-Timing db count");
  });
});

describe("purchasesText", () => {
  it("says how many purchases were paid per second, how many ended early and where, and the insufficient_stock rates", () => {
    expect(purchasesText(result())).toBe(
      "Purchases: 10 started, 9 checked out, 8 payments confirmed, **8 paid (1.6 per second over 5 s)**, 0 not paid within 10 s; " +
        "ended early at: checkout 1, pay 1; 409 insufficient_stock: 1 at cart_put (5.00 %), 1 at checkout (10.00 %); " +
        "browse → paid p50 210 / p95 260 / p99 270 ms; paid_wait read the order 2 times per payment (every 100 ms)",
    );
  });

  it("says so when nothing ended early and nothing was paid", () => {
    const none = flows({ completed: 0, completed_per_s: 0, ended_at: {}, duration_ms: null, polls_per_wait: null });
    expect(purchasesText(result(recordedRun(), none))).toContain(
      "**0 paid (0 per second over 5 s)**, 0 not paid within 10 s; none ended early;",
    );
  });
});

describe("writeStorefrontReport", () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("writes result.json, result.md and latency.svg, the Markdown with the step table", () => {
    dir = mkdtempSync(join(tmpdir(), "tenpo-storefront-"));
    const r = result();
    const paths = writeStorefrontReport(join(dir, "run"), r);
    expect([paths.json, paths.md, paths.svg].every((p) => existsSync(p))).toBe(true);
    expect(JSON.parse(readFileSync(paths.json, "utf8"))).toEqual(r);
    const md = readFileSync(paths.md, "utf8");
    expect(md).toContain(storefrontMarkdown(r));
    expect(md).toContain("| step | request | requests |");
    expect(readFileSync(paths.svg, "utf8")).toMatch(/^<svg[\s\S]*cart_put[\s\S]*<\/svg>\s*$/);
  });
});
