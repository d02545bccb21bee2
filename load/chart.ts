/**
 * A latency chart as a hand-written SVG (no dependencies, opens in any browser):
 *   top:    p50 / p95 / p99 bars per endpoint, with the values written on them;
 *   bottom: (optional) requests per second and each endpoint's p95 over time, second by second.
 */
export interface ChartRow {
  label: string;
  /** A second, smaller line under the label, e.g. the request ("GET /api/v1/products?page=1..10"). */
  detail?: string;
  /** A third line, e.g. "12,345 req · 0 errors". */
  note?: string;
  p50: number;
  p95: number;
  p99: number;
}
export interface ChartTimelinePoint {
  t: number;
  requests: number;
  errors: number;
  p95_ms: Record<string, number>;
}
export interface ChartInput {
  title: string;
  subtitle?: string;
  rows: ChartRow[];
  timeline?: ChartTimelinePoint[];
  /** Timeline series to draw (keys of p95_ms) and their legend labels. */
  series?: Record<string, string>;
}

const WIDTH = 960;
const LEFT = 290;
const RIGHT = 70;
const PCT_COLORS = { p50: "#4c78a8", p95: "#f58518", p99: "#e45756" } as const;
const LINE_COLORS = ["#4c78a8", "#54a24b", "#b279a2", "#e45756", "#72b7b2", "#eeca3b"];
/** The font attribute of a chart's root <svg> element. */
export const SVG_FONT = "font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif\"";

export function latencyChartSvg(input: ChartInput): string {
  const parts: string[] = [];
  let y = 0;
  parts.push(svgText(20, (y += 30), input.title, 18, "start", "#222", "bold"));
  if (input.subtitle) parts.push(svgText(20, (y += 20), input.subtitle, 12, "start", "#555"));
  y += 16;

  // Legend for the bars.
  let lx = LEFT;
  for (const [name, color] of Object.entries(PCT_COLORS)) {
    parts.push(`<rect x="${lx}" y="${y - 10}" width="12" height="12" fill="${color}"/>`);
    parts.push(svgText(lx + 17, y, name, 12, "start", "#333"));
    lx += 70;
  }
  parts.push(svgText(WIDTH - RIGHT, y, "latency, ms", 12, "end", "#555"));
  y += 12;

  const plotW = WIDTH - LEFT - RIGHT;
  const max = niceCeil(Math.max(1, ...input.rows.map((r) => r.p99)));
  const barH = 12;
  const groupH = barH * 3 + 18;
  const top = y + 6;
  // Grid and axis labels.
  for (let i = 0; i <= 5; i++) {
    const gx = LEFT + (plotW * i) / 5;
    parts.push(`<line x1="${gx}" y1="${top}" x2="${gx}" y2="${top + groupH * input.rows.length}" stroke="#e5e5e5"/>`);
    parts.push(svgText(gx, top + groupH * input.rows.length + 14, fmt((max * i) / 5), 11, "middle", "#666"));
  }
  input.rows.forEach((row, i) => {
    const gy = top + i * groupH + 4;
    parts.push(svgText(LEFT - 10, gy + 10, row.label, 13, "end", "#222", "bold"));
    if (row.detail) parts.push(svgText(LEFT - 10, gy + 24, clip(row.detail, 46), 11, "end", "#444"));
    if (row.note) parts.push(svgText(LEFT - 10, gy + 38, clip(row.note, 46), 11, "end", "#777"));
    (["p50", "p95", "p99"] as const).forEach((key, k) => {
      const value = row[key];
      const w = Math.max(1, (plotW * value) / max);
      const by = gy + k * barH;
      parts.push(`<rect x="${LEFT}" y="${by}" width="${w.toFixed(1)}" height="${barH - 2}" fill="${PCT_COLORS[key]}"/>`);
      parts.push(svgText(LEFT + w + 4, by + barH - 3, `${fmt(value)}`, 10, "start", "#333"));
    });
  });
  y = top + groupH * input.rows.length + 30;

  const timeline = input.timeline ?? [];
  const series = Object.entries(input.series ?? {});
  if (timeline.length > 1 && series.length > 0) {
    y += 20;
    parts.push(
      svgText(
        20,
        y,
        "Over time: requests per second (grey bars, left axis) and p95 latency per endpoint (lines, right axis)",
        13,
        "start",
        "#222",
        "bold",
      ),
    );
    y += 14;
    lx = LEFT;
    series.forEach(([, label], i) => {
      const color = LINE_COLORS[i % LINE_COLORS.length]!;
      parts.push(`<line x1="${lx}" y1="${y - 4}" x2="${lx + 16}" y2="${y - 4}" stroke="${color}" stroke-width="2.5"/>`);
      parts.push(svgText(lx + 21, y, label, 12, "start", "#333"));
      lx += 30 + label.length * 6.5;
    });
    y += 24;
    const h = 220;
    const t0 = timeline[0]!.t;
    const tN = timeline[timeline.length - 1]!.t;
    const xOf = (t: number): number => LEFT + (plotW * (t - t0)) / Math.max(1, tN - t0 + 1);
    const maxReq = niceCeil(Math.max(1, ...timeline.map((p) => p.requests)));
    const maxP95 = niceCeil(Math.max(1, ...timeline.flatMap((p) => series.map(([k]) => p.p95_ms[k] ?? 0))));
    for (let i = 0; i <= 5; i++) {
      const gy = y + h - (h * i) / 5;
      parts.push(`<line x1="${LEFT}" y1="${gy}" x2="${LEFT + plotW}" y2="${gy}" stroke="#e5e5e5"/>`);
      parts.push(svgText(LEFT - 8, gy + 4, fmt((maxReq * i) / 5), 11, "end", "#888"));
      parts.push(svgText(LEFT + plotW + 8, gy + 4, `${fmt((maxP95 * i) / 5)} ms`, 11, "start", "#666"));
    }
    const bw = Math.max(1, plotW / Math.max(1, tN - t0 + 1) - 1);
    for (const p of timeline) {
      const bh = (h * p.requests) / maxReq;
      parts.push(
        `<rect x="${xOf(p.t).toFixed(1)}" y="${(y + h - bh).toFixed(1)}" width="${bw.toFixed(1)}" height="${bh.toFixed(1)}" fill="#d9d9d9"/>`,
      );
      if (p.errors > 0) {
        const eh = (h * p.errors) / maxReq;
        parts.push(
          `<rect x="${xOf(p.t).toFixed(1)}" y="${(y + h - eh).toFixed(1)}" width="${bw.toFixed(1)}" height="${Math.max(1, eh).toFixed(1)}" fill="#e45756" opacity="0.6"/>`,
        );
      }
    }
    series.forEach(([key], i) => {
      const color = LINE_COLORS[i % LINE_COLORS.length]!;
      const points = timeline
        .filter((p) => p.p95_ms[key] !== undefined)
        .map((p) => `${(xOf(p.t) + bw / 2).toFixed(1)},${(y + h - (h * p.p95_ms[key]!) / maxP95).toFixed(1)}`);
      if (points.length > 1) parts.push(`<polyline points="${points.join(" ")}" fill="none" stroke="${color}" stroke-width="2"/>`);
      for (const point of points) {
        const [cx, cy] = point.split(",");
        parts.push(`<circle cx="${cx}" cy="${cy}" r="2.5" fill="${color}"/>`);
      }
    });
    const span = tN - t0 + 1;
    const step = Math.max(1, Math.ceil(span / 8));
    for (let t = t0; t <= t0 + span; t += step) parts.push(svgText(xOf(t), y + h + 16, `${t} s`, 11, "middle", "#666"));
    if (timeline.some((p) => p.errors > 0))
      parts.push(svgText(LEFT + plotW, y + h + 32, "red: responses with errors", 11, "end", "#e45756"));
    y += h + 40;
  }

  const height = Math.ceil(y + 10);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" ${SVG_FONT}>`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    ...parts,
    "</svg>",
    "",
  ].join("\n");
}

/** One <text> element, its content escaped. */
export function svgText(x: number, y: number, content: string, size: number, anchor: string, fill: string, weight = "normal"): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" font-size="${size}" text-anchor="${anchor}" fill="${fill}" font-weight="${weight}">${escapeXml(content)}</text>`;
}

function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** A round number (1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten), at least `v`. */
function niceCeil(v: number): number {
  const pow = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * pow >= v) return m * pow;
  return 10 * pow;
}

function fmt(v: number): string {
  if (v >= 100) return Math.round(v).toLocaleString("en-US");
  if (v >= 10) return v.toFixed(1).replace(/\.0$/, "");
  return v.toFixed(2).replace(/\.?0+$/, "") || "0";
}
