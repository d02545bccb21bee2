/**
 * The storefront user's report (load/storefront.ts): the per-step table (requests, latency, errors,
 * 409 insufficient_stock, the Worker's database round trips per step from Server-Timing), the purchases
 * line, the chart, and the three files `npm run load -- --storefront` writes. The bench's report shows
 * the same table (scripts/bench/report.ts).
 */
import { latencyChartSvg } from "./chart";
import type { DbRoundTrips, EndpointSummary } from "./recorder";
import { catalogHitText, errorText, pct, writeReportFiles, type ReportPaths } from "./report";
import { INSUFFICIENT_STOCK, PAID_TIMEOUT_MS, STOREFRONT_STEP_LABELS, type StorefrontResult, type StorefrontStep } from "./storefront";

/** Steps where a 409 insufficient_stock is an expected outcome. */
const STOCK_STEPS: ReadonlySet<string> = new Set(["cart_put", "checkout"]);
/** Steps that are not the API: the Worker sends them no Server-Timing. */
const NOT_THE_API: ReadonlySet<string> = new Set(["pay"]);

/**
 * "2 (all 512)" when every response said the same count, "mean 2.02 (2: 500, 3: 12)" otherwise;
 * "n/a: …" when no response carried one.
 */
export function roundTripsText(step: string, db: DbRoundTrips | null): string {
  if (NOT_THE_API.has(step)) return "n/a: Stripe, not the API";
  if (!db) return "n/a: no Server-Timing db count";
  const entries = Object.entries(db.counts).sort(([a], [b]) => Number(a) - Number(b));
  const text =
    entries.length === 1
      ? `${entries[0]![0]} (all ${db.counted.toLocaleString("en-US")})`
      : `mean ${db.mean} (${entries.map(([n, c]) => `${n}: ${c.toLocaleString("en-US")}`).join(", ")})`;
  return db.without > 0 ? `${text}; ${db.without} without a count` : text;
}

/** "3 (0.6 %)" at cart_put and checkout; "" at the other steps. */
export function insufficientStockText(s: EndpointSummary): string {
  if (!STOCK_STEPS.has(s.endpoint)) return "";
  const n = s.expected[`409 ${INSUFFICIENT_STOCK}`] ?? 0;
  return `${n} (${pct(s.requests > 0 ? n / s.requests : null, 2)})`;
}

/** One row per step, in the order a purchase makes them, then all together. */
export function storefrontStepTable(r: Pick<StorefrontResult, "endpoints" | "overall">): string {
  const row = (s: EndpointSummary): string =>
    [
      s.endpoint === "all" ? "**all**" : s.endpoint,
      s.endpoint === "all" ? "" : `\`${STOREFRONT_STEP_LABELS[s.endpoint as StorefrontStep] ?? s.endpoint}\``,
      s.requests.toLocaleString("en-US"),
      s.rps.toLocaleString("en-US"),
      s.p50_ms,
      s.p95_ms,
      s.p99_ms,
      errorText(s),
      s.requests > 0 ? pct(s.errors / s.requests, 2) : "n/a",
      s.endpoint === "all" ? "" : insufficientStockText(s),
      s.endpoint === "all" ? "" : roundTripsText(s.endpoint, s.db_round_trips),
    ]
      .join(" | ")
      .replace(/^/, "| ")
      .replace(/$/, " |");
  return [
    "| step | request | requests | req/s | p50 ms | p95 ms | p99 ms | errors | error rate | 409 insufficient_stock (rate) | DB round trips per response (Server-Timing) |",
    "|---|---|---:|---:|---:|---:|---:|---|---:|---:|---|",
    ...[...r.endpoints, r.overall].map(row),
  ].join("\n");
}

/** What the purchases came to, as one paragraph. */
export function purchasesText(r: Pick<StorefrontResult, "flows" | "window_s">): string {
  const f = r.flows;
  const ended = Object.entries(f.ended_at)
    .map(([step, n]) => `${step} ${n}`)
    .join(", ");
  const s = f.insufficient_stock;
  const duration = f.duration_ms ? `browse → paid p50 ${f.duration_ms.p50} / p95 ${f.duration_ms.p95} / p99 ${f.duration_ms.p99} ms` : "";
  return [
    `Purchases: ${f.started.toLocaleString("en-US")} started, ${f.checked_out.toLocaleString("en-US")} checked out, ` +
      `${f.payments_confirmed.toLocaleString("en-US")} payments confirmed, **${f.completed.toLocaleString("en-US")} paid ` +
      `(${f.completed_per_s} per second over ${r.window_s} s)**, ${f.not_paid} not paid within ${PAID_TIMEOUT_MS / 1000} s`,
    ended ? `ended early at: ${ended}` : "none ended early",
    `409 insufficient_stock: ${s.cart_put} at cart_put (${pct(s.cart_put_rate, 2)}), ${s.checkout} at checkout (${pct(s.checkout_rate, 2)})`,
    ...(duration ? [duration] : []),
    ...(f.polls_per_wait === null ? [] : [`paid_wait read the order ${f.polls_per_wait} times per payment (every 100 ms)`]),
  ].join("; ");
}

export function storefrontMarkdown(r: StorefrontResult): string {
  return [
    `Storefront user against ${r.target} (payments confirmed at ${r.stripe_api_base}): ${r.users} users (spawn ${r.spawn_rate}/s), ` +
      `${r.duration_s} s, no think time, logins spread over user1..user${r.users}@example.com; window ${r.window_s} s, ` +
      `${r.users_started} users started, ${r.logins_failed} logins failed; catalog reads: ${catalogHitText(r)}.`,
    "",
    storefrontStepTable(r),
    "",
    `${purchasesText(r)}.`,
    "",
    "Round trips are the Worker's own count of each response's database queries (`Server-Timing: db;desc=\"N queries\"`, " +
      "sent with SERVER_TIMING=detail); paid_wait's is summed over the order reads of one wait. " +
      "A 409 insufficient_stock at cart_put or checkout is an expected outcome (demo stock running out), not an error.",
  ].join("\n");
}

export function storefrontChart(r: StorefrontResult): string {
  const present = r.endpoints.filter((s) => s.requests > 0);
  return latencyChartSvg({
    title: "Tenpo: the storefront user (browse → cart → checkout → pay → paid)",
    subtitle:
      `${r.target} · ${r.users} users · ${r.window_s} s · ${r.overall.requests.toLocaleString("en-US")} requests, ` +
      `${r.flows.completed} purchases paid (${r.flows.completed_per_s}/s), ${r.overall.errors} errors · ${r.started_at}`,
    rows: present.map((s) => ({
      label: s.endpoint,
      detail: STOREFRONT_STEP_LABELS[s.endpoint as StorefrontStep],
      note: `${s.requests.toLocaleString("en-US")} req · ${s.rps} req/s · ${s.errors} errors`,
      p50: s.p50_ms,
      p95: s.p95_ms,
      p99: s.p99_ms,
    })),
    timeline: r.timeline,
    series: Object.fromEntries(present.map((s) => [s.endpoint, s.endpoint])),
  });
}

/** Writes the storefront run's result.json, result.md and latency.svg into `dir`; returns their paths. */
export function writeStorefrontReport(dir: string, r: StorefrontResult): ReportPaths {
  return writeReportFiles(dir, r, storefrontMarkdown(r), storefrontChart(r));
}
