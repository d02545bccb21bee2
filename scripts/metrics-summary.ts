/**
 * The arithmetic of `npm run metrics`: per-route request counts, rates, latency percentiles, error
 * rates, cache hit ratio and database round trips over the local sink's records, and the table it
 * prints. No Node APIs, so the tests (inside workerd) import it directly.
 *
 * Definitions (scripts/analytics/*.sql compute the same from Analytics Engine):
 *   - percentiles are exact nearest-rank values of duration_ms (like quantileExactWeighted);
 *   - req/s is count ÷ the span with traffic (first to last record of the window, at least 1 s);
 *     the SQL divides by the dashboard's window instead;
 *   - 5xx % and 4xx % are shares of all requests of the route;
 *   - hit % is (HIT + STALE) ÷ (HIT + STALE + MISS): requests a cache answered; BYPASS and NONE are
 *     left out, and "-" means no request of the route went through a cache.
 */
import { fromDataPoint, isSinkRecord, type RequestSample } from "../src/observability/data-point";

export type TimedSample = RequestSample & { timestamp: number };

export type RouteSummary = {
  /** "GET /api/v1/products/:id", or "all" for the total. */
  name: string;
  count: number;
  reqPerSec: number;
  p50: number;
  p95: number;
  p99: number;
  error5xxPct: number;
  error4xxPct: number;
  /** null when no request of the route went through a cache. */
  cacheHitPct: number | null;
  meanDbRoundTrips: number;
  meanDbMs: number;
};

export type MetricsSummary = {
  from: number;
  to: number;
  spanSeconds: number;
  total: RouteSummary;
  routes: RouteSummary[];
};

/** Reads the sink's JSON lines; malformed lines are counted, not fatal. */
export function parseMetricsLines(text: string): { samples: TimedSample[]; skipped: number } {
  const samples: TimedSample[] = [];
  let skipped = 0;
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      skipped += 1;
      continue;
    }
    if (!isSinkRecord(value)) {
      skipped += 1;
      continue;
    }
    samples.push({ ...fromDataPoint(value), timestamp: value.timestamp });
  }
  return { samples, skipped };
}

/** Nearest-rank percentile of ascending values: the smallest value with at least q of them at or below it. */
export function percentile(sortedAscending: readonly number[], q: number): number {
  if (sortedAscending.length === 0) return NaN;
  const rank = Math.ceil(q * sortedAscending.length);
  return sortedAscending[Math.min(Math.max(rank, 1), sortedAscending.length) - 1]!;
}

export function summarize(samples: readonly TimedSample[]): MetricsSummary | null {
  if (samples.length === 0) return null;
  let from = Infinity;
  let to = -Infinity;
  for (const s of samples) {
    from = Math.min(from, s.timestamp);
    to = Math.max(to, s.timestamp);
  }
  const spanSeconds = Math.max((to - from) / 1000, 1);
  const groups = new Map<string, TimedSample[]>();
  for (const s of samples) {
    const name = `${s.method} ${s.route}`;
    let group = groups.get(name);
    if (!group) groups.set(name, (group = []));
    group.push(s);
  }
  const routes = [...groups].map(([name, group]) => summarizeGroup(name, group, spanSeconds));
  routes.sort((a, b) => b.count - a.count || a.name.localeCompare(b.name));
  return { from, to, spanSeconds, total: summarizeGroup("all", samples, spanSeconds), routes };
}

function summarizeGroup(name: string, group: readonly TimedSample[], spanSeconds: number): RouteSummary {
  const durations = group.map((s) => s.durationMs).sort((a, b) => a - b);
  let e5 = 0;
  let e4 = 0;
  let hits = 0;
  let cached = 0;
  let roundTrips = 0;
  let dbMs = 0;
  for (const s of group) {
    if (s.status >= 500) e5 += 1;
    else if (s.status >= 400) e4 += 1;
    if (s.cacheStatus === "HIT" || s.cacheStatus === "STALE") hits += 1;
    if (s.cacheStatus === "HIT" || s.cacheStatus === "STALE" || s.cacheStatus === "MISS") cached += 1;
    roundTrips += s.dbRoundTrips;
    dbMs += s.dbMs;
  }
  const n = group.length;
  return {
    name,
    count: n,
    reqPerSec: n / spanSeconds,
    p50: percentile(durations, 0.5),
    p95: percentile(durations, 0.95),
    p99: percentile(durations, 0.99),
    error5xxPct: (100 * e5) / n,
    error4xxPct: (100 * e4) / n,
    cacheHitPct: cached ? (100 * hits) / cached : null,
    meanDbRoundTrips: roundTrips / n,
    meanDbMs: dbMs / n,
  };
}

const COLUMNS: Array<{ title: string; value: (r: RouteSummary) => string }> = [
  { title: "route", value: (r) => r.name },
  { title: "count", value: (r) => String(r.count) },
  { title: "req/s", value: (r) => fixed(r.reqPerSec, 1) },
  { title: "p50 ms", value: (r) => fixed(r.p50, 1) },
  { title: "p95 ms", value: (r) => fixed(r.p95, 1) },
  { title: "p99 ms", value: (r) => fixed(r.p99, 1) },
  { title: "5xx %", value: (r) => fixed(r.error5xxPct, 1) },
  { title: "4xx %", value: (r) => fixed(r.error4xxPct, 1) },
  { title: "hit %", value: (r) => (r.cacheHitPct === null ? "-" : fixed(r.cacheHitPct, 1)) },
  { title: "db trips", value: (r) => fixed(r.meanDbRoundTrips, 2) },
  { title: "db ms", value: (r) => fixed(r.meanDbMs, 1) },
];

/** The readable table: one row per method and route pattern, busiest first, then the total. */
export function formatSummary(summary: MetricsSummary | null, opts: { minutes: number; skipped?: number }): string {
  if (!summary) return `No requests recorded in the last ${opts.minutes} min.`;
  const rows = [...summary.routes, summary.total].map((r) => COLUMNS.map((c) => c.value(r)));
  const header = COLUMNS.map((c) => c.title);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join("  ")
      .trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  const out = [
    `${summary.total.count} requests in the last ${opts.minutes} min; traffic from ${clock(summary.from)} to ${clock(summary.to)} ` +
      `(${fixed(summary.spanSeconds, 1)} s, req/s over that span)`,
    "",
    line(header),
    rule,
    ...rows.slice(0, -1).map(line),
    rule,
    line(rows[rows.length - 1]!),
  ];
  if (opts.skipped) out.push("", `${opts.skipped} malformed line(s) skipped.`);
  return out.join("\n");
}

function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : "-";
}

function clock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}
