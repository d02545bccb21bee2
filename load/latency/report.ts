/**
 * The latency model's report: the per-city tables (Markdown), a chart of them (SVG), and the model
 * against the bench's --rtt runs.
 */
import { SVG_FONT, svgText } from "../chart";
import { AGREEMENT, type Agreement, type Percentiles } from "./model";
import { DEPLOYMENT_LABELS, MODELLED, MODELLED_LABELS, type CityRow, type Deployment } from "./per-city";
import { IN_REGION_MS, SOURCES } from "./rtt-table";

/** The deployments the headline compares (the three); "split" has a table of its own. */
const HEADLINE: readonly Deployment[] = ["edge", "placed", "origin"];

const ms = (p: Percentiles | null, which: "p50_ms" | "p95_ms"): string => (p ? String(Math.round(p[which])) : "—");

/** Rows: cities; columns: endpoints; each cell `Tenpo · placed · original` at one percentile. */
export function cityTable(rows: readonly CityRow[], which: "p50_ms" | "p95_ms", deployments: readonly Deployment[] = HEADLINE): string {
  const head = `| city (to us-east-1) | ${MODELLED.map((e) => MODELLED_LABELS[e]).join(" | ")} |`;
  const rule = `|---|${MODELLED.map(() => "---:").join("|")}|`;
  const body = rows.map((r) => {
    const cells = MODELLED.map((e) => deployments.map((d) => ms(r.cells[e][d], which)).join(" · "));
    return `| ${r.city.name} (${r.city.toUsEast1Ms} ms) | ${cells.join(" | ")} |`;
  });
  return [head, rule, ...body].join("\n");
}

/**
 * The model against one --rtt run, a row per check: round trips, the no-RTT input, the floor, predicted
 * and measured percentiles, the errors and the verdict. The bench's report and this one print it.
 */
export function agreementRows(rows: readonly Agreement[]): string {
  const signed = (v: number): string => `${v >= 0 ? "+" : ""}${(v * 100).toFixed(1)} %`;
  return [
    "| endpoint | DB RT (median) | Redis RT (median) | no RTT p50 / p95 ms | floor ms | predicted p50 / p95 ms | measured p50 / p95 ms | p50 error | p95 error | agrees |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ...rows.map(
      (a) =>
        `| ${a.endpoint} | ${a.db_round_trips_median} | ${a.redis_round_trips_median} | ${a.unloaded.p50_ms} / ${a.unloaded.p95_ms} | ${a.floor_ms} | ` +
        `${a.predicted.p50_ms} / ${a.predicted.p95_ms} | ${a.measured.p50_ms} / ${a.measured.p95_ms} | ${signed(a.p50_error)} | ${signed(a.p95_error)} | ${a.agrees ? "yes" : "**no**"} |`,
    ),
  ].join("\n");
}

export interface ModelInputs {
  tenpoRun: string;
  tenpoCommit: string;
  peerRun: string | null;
  lastMileMs: number;
  /** Own time (p50, no round trip) and median round trips per probe, for the inputs table. */
  inputs: Array<{ probe: string; tenpo: { p50: number; db: number; redis: number; requests: number } | null; peerP50: number | null }>;
}

/** The whole Markdown report. */
export function modelMarkdown(
  rows: readonly CityRow[],
  meta: ModelInputs,
  checks: ReadonlyArray<{ title: string; rows: Agreement[] }>,
): string {
  const legend = HEADLINE.map((d) => DEPLOYMENT_LABELS[d]).join(" · ");
  const inputs = [
    "| probe | requests | Tenpo own time p50 ms | DB round trips (median) | Redis round trips (median) | original own time p50 ms |",
    "|---|---:|---:|---:|---:|---:|",
    ...meta.inputs.map(
      (i) =>
        `| ${i.probe} | ${i.tenpo?.requests ?? "—"} | ${i.tenpo?.p50 ?? "—"} | ${i.tenpo?.db ?? "—"} | ${i.tenpo?.redis ?? "—"} | ${i.peerP50 ?? "—"} |`,
    ),
  ].join("\n");
  const checkText = checks.length
    ? checks.map((c) => `**${c.title}**\n\n${agreementRows(c.rows)}`).join("\n\n")
    : "No --check run given: `npm run latency-model -- --check load/results/bench-….json` compares a `npm run bench -- --rtt …` run with the model.";
  return [
    "# Latency per city: what a shopper waits",
    "",
    `Model inputs: Tenpo's probes from \`${meta.tenpoRun}\` (code ${meta.tenpoCommit}), the original's from \`${meta.peerRun ?? "none"}\`; ` +
      `last mile (shopper → nearest Cloudflare location, and the same on the way to us-east-1) ${meta.lastMileMs} ms; in-region round trip ${IN_REGION_MS} ms. ` +
      "Each request = its own time on loopback + the round trips it made, each charged at the city's RTT (load/latency/model.ts). Warm connections: no TCP or TLS handshake is charged.",
    "",
    `## p50, ms: ${legend}`,
    "",
    cityTable(rows, "p50_ms"),
    "",
    `## p95, ms: ${legend}`,
    "",
    cityTable(rows, "p95_ms"),
    "",
    `## Not built: ${DEPLOYMENT_LABELS.split}, p50, ms`,
    "",
    cityTable(rows, "p50_ms", ["split"]),
    "",
    "## Inputs (one request at a time, no round trip charged)",
    "",
    inputs,
    "",
    `## The model against measurement (agreement: p50 within ${(AGREEMENT * 100).toFixed(0)} %)`,
    "",
    checkText,
    "",
    "## Sources",
    "",
    ...rows.map((r) => `- ${r.city.name} (${r.city.location}) → us-east-1: ${r.city.toUsEast1Ms} ms, ${r.city.source}`),
    "",
    ...SOURCES.map((s) => `- [${s.id}] ${s.title}. <${s.url}>: “${s.quote}”`),
    "",
  ].join("\n");
}

const COLORS: Record<Deployment, string> = { edge: "#4c78a8", placed: "#f58518", split: "#54a24b", origin: "#e45756" };

/** One panel per endpoint, one group of bars (p50) per city, one bar per deployment. */
export function modelChartSvg(rows: readonly CityRow[], subtitle: string): string {
  const width = 960;
  const left = 210;
  const right = 60;
  const bar = 7;
  const group = bar * HEADLINE.length + 8;
  const parts: string[] = [];
  let y = 30;
  const text = (x: number, ty: number, s: string, size = 12, anchor = "start", color = "#333", weight = "normal"): string =>
    svgText(x, ty, s, size, anchor, color, weight);
  parts.push(text(20, y, "Tenpo vs the FastAPI original: p50 latency per city (model)", 18, "start", "#222", "bold"));
  parts.push(text(20, (y += 20), subtitle, 12, "start", "#555"));
  y += 22;
  let lx = left;
  for (const d of HEADLINE) {
    parts.push(`<rect x="${lx}" y="${y - 10}" width="12" height="12" fill="${COLORS[d]}"/>`);
    parts.push(text(lx + 17, y, DEPLOYMENT_LABELS[d]));
    lx += 230;
  }
  y += 16;
  for (const endpoint of MODELLED) {
    const values = rows.flatMap((r) => HEADLINE.map((d) => r.cells[endpoint][d]?.p50_ms ?? 0));
    const max = Math.max(1, ...values);
    const scale = (width - left - right) / max;
    parts.push(text(20, (y += 18), MODELLED_LABELS[endpoint], 14, "start", "#222", "bold"));
    y += 8;
    for (const r of rows) {
      parts.push(text(left - 8, y + group / 2, r.city.name, 11, "end"));
      HEADLINE.forEach((d, i) => {
        const p = r.cells[endpoint][d];
        const by = y + i * bar;
        if (!p) return;
        const w = Math.max(1, p.p50_ms * scale);
        parts.push(`<rect x="${left}" y="${by}" width="${w.toFixed(1)}" height="${bar - 1}" fill="${COLORS[d]}"/>`);
        parts.push(text(left + w + 4, by + bar - 1, `${Math.round(p.p50_ms)}`, 9, "start", "#444"));
      });
      y += group;
    }
    y += 6;
  }
  const height = y + 20;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${SVG_FONT}>`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    ...parts,
    "</svg>",
    "",
  ].join("\n");
}
