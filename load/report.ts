/**
 * Writing a load run's result: JSON (everything), Markdown (the table people read) and an SVG latency
 * chart, into one folder; the Locust user's tables and chart (the storefront's: load/storefront-report.ts).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { latencyChartSvg } from "./chart";
import { isError, type EndpointSummary } from "./recorder";
import { ENDPOINT_LABELS, type Endpoint, type ScenarioResult } from "./scenario";

export function pct(ratio: number | null | undefined, digits = 1): string {
  return ratio === null || ratio === undefined ? "n/a" : `${(ratio * 100).toFixed(digits)} %`;
}

/** "404: 12, ECONNRESET: 1" (errors only: not the expected outcomes), or "0". */
export function errorText(s: Pick<EndpointSummary, "statuses" | "errors"> & { expected?: Record<string, number> }): string {
  if (s.errors === 0) return "0";
  const parts = Object.entries(s.statuses)
    .filter(([status]) => isError(status) && !(status in (s.expected ?? {})))
    .map(([status, n]) => `${status}: ${n}`);
  return `${s.errors} (${parts.join(", ")})`;
}

/** "HIT 950, MISS 50" for a cached read; "no X-Cache header" when none carried one; "" when not cached. */
export function cacheText(s: Pick<EndpointSummary, "x_cache" | "hit_ratio">): string {
  if (!s.x_cache) return "";
  const entries = Object.entries(s.x_cache).filter(([, n]) => (n ?? 0) > 0);
  if (entries.length === 0) return "n/a: no successful reads";
  if (s.hit_ratio === null) return "n/a: no X-Cache header";
  return `${pct(s.hit_ratio)} (${entries.map(([k, n]) => `${k} ${n}`).join(", ")})`;
}

export function scenarioMarkdown(r: ScenarioResult): string {
  const lines = [
    `Locust user against ${r.target}: ${r.users} users (spawn ${r.spawn_rate}/s), ${r.duration_s} s, ` +
      `${r.wait ? "think time 1–3 s" : "no think time (--no-wait)"}, logins ${r.accounts === "chapter" ? "all as test@example.com" : "spread over user1..user1000@example.com"}; ` +
      `window ${r.window_s} s, ${r.users_started} users started, ${r.logins_failed} logins failed.`,
    "",
    "| endpoint | requests | req/s | p50 ms | p95 ms | p99 ms | errors | X-Cache hit ratio |",
    "|---|---:|---:|---:|---:|---:|---|---|",
    ...[...r.endpoints, r.overall].map((s) =>
      [
        s.endpoint === "all" ? "**all**" : `${s.endpoint} (\`${ENDPOINT_LABELS[s.endpoint as Endpoint] ?? s.endpoint}\`)`,
        s.requests.toLocaleString("en-US"),
        s.rps.toLocaleString("en-US"),
        s.p50_ms,
        s.p95_ms,
        s.p99_ms,
        errorText(s),
        s.endpoint === "all" ? `catalog reads: ${catalogHitText(r)}` : cacheText(s),
      ]
        .join(" | ")
        .replace(/^/, "| ")
        .replace(/$/, " |"),
    ),
  ];
  return lines.join("\n");
}

export function catalogHitText(r: Pick<ScenarioResult, "catalog_hit_ratio">): string {
  const h = r.catalog_hit_ratio;
  if (h.ratio === null) return h.without_header > 0 ? "n/a: no X-Cache header" : "n/a: no successful reads";
  const missing = h.without_header > 0 ? `, ${h.without_header} without header` : "";
  return `${pct(h.ratio)} of ${h.counted}${missing}`;
}

export function scenarioChart(r: ScenarioResult, title = "Tenpo: the FastAPI original's Locust user"): string {
  const present = r.endpoints.filter((s) => s.requests > 0);
  return latencyChartSvg({
    title,
    subtitle:
      `${r.target} · ${r.users} users · ${r.wait ? "think time 1–3 s" : "no think time"} · ${r.window_s} s · ` +
      `${r.overall.requests.toLocaleString("en-US")} requests, ${r.overall.rps} req/s, ${r.overall.errors} errors · ${r.started_at}`,
    rows: present.map((s) => ({
      label: s.endpoint,
      detail: ENDPOINT_LABELS[s.endpoint as Endpoint],
      note: `${s.requests.toLocaleString("en-US")} req · ${s.rps} req/s · ${s.errors} errors`,
      p50: s.p50_ms,
      p95: s.p95_ms,
      p99: s.p99_ms,
    })),
    timeline: r.timeline,
    series: Object.fromEntries(present.map((s) => [s.endpoint, s.endpoint])),
  });
}

/** The files one load run writes. */
export interface ReportPaths {
  json: string;
  md: string;
  svg: string;
}

/** Writes result.json (the result), result.md (`markdown` under a title) and latency.svg into `dir`. */
export function writeReportFiles(dir: string, result: { started_at: string }, markdown: string, svg: string): ReportPaths {
  mkdirSync(dir, { recursive: true });
  const paths = { json: join(dir, "result.json"), md: join(dir, "result.md"), svg: join(dir, "latency.svg") };
  writeFileSync(paths.json, `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(paths.md, `# Load test ${result.started_at}\n\n${markdown}\n\n![latency](latency.svg)\n`);
  writeFileSync(paths.svg, svg);
  return paths;
}

/** Writes the Locust user's result.json, result.md and latency.svg into `dir`; returns their paths. */
export function writeScenarioReport(dir: string, r: ScenarioResult): ReportPaths {
  return writeReportFiles(dir, r, scenarioMarkdown(r), scenarioChart(r));
}

/** 2026-11-28T08-57-03Z: a timestamp usable in a file name. */
export function fileStamp(date = new Date()): string {
  return date
    .toISOString()
    .replace(/\.\d+Z$/, "Z")
    .replace(/:/g, "-");
}
