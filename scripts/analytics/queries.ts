/**
 * The production side of the metrics: the Analytics Engine SQL in scripts/analytics/*.sql, how
 * scripts/analytics-query.ts runs it through the SQL API, and the Grafana dashboard built from the very
 * same files. No Node APIs, so the tests (inside workerd) import it.
 *
 * The .sql files use the macros of the Altinity plugin for ClickHouse (Grafana data source
 * `vertamedia-clickhouse-datasource`, the one Cloudflare documents for Analytics Engine) plus one
 * Grafana variable:
 *   $timeFilter  → timestamp >= toDateTime($from) AND timestamp <= toDateTime($to)
 *   $timeSeries  → (intDiv(toUInt32(timestamp), $interval) * $interval) * 1000   (bucket start, ms)
 *   $from, $to   → the window's bounds in unix seconds;  $interval → the bucket size in seconds
 *   ${dataset}   → the dataset (table): tenpo_requests, or tenpo_requests_staging
 * analytics-query.ts expands them the way the plugin does, so a query gives the same numbers in both.
 * Column layout: src/observability/data-point.ts.
 */

export type QueryName =
  | "route-summary"
  | "requests-per-second"
  | "latency-by-route"
  | "latency-overall"
  | "error-rate"
  | "cache-hit-ratio"
  | "db-round-trips"
  | "colo-summary";

type GridPos = { h: number; w: number; x: number; y: number };

export type QueryDefinition = {
  name: QueryName;
  title: string;
  /** Grafana: "time_series" queries start with `$timeSeries AS t`; "table" queries summarise the window. */
  format: "time_series" | "table";
  unit: string;
  gridPos: GridPos;
};

/** Every query, in dashboard order. Each has scripts/analytics/<name>.sql. */
export const QUERIES: readonly QueryDefinition[] = [
  {
    name: "requests-per-second",
    title: "Requests per second by route",
    format: "time_series",
    unit: "reqps",
    gridPos: { h: 8, w: 12, x: 0, y: 0 },
  },
  { name: "latency-by-route", title: "p95 duration by route", format: "time_series", unit: "ms", gridPos: { h: 8, w: 12, x: 12, y: 0 } },
  {
    name: "latency-overall",
    title: "Duration p50 / p95 / p99, all routes",
    format: "time_series",
    unit: "ms",
    gridPos: { h: 8, w: 12, x: 0, y: 8 },
  },
  { name: "error-rate", title: "Error rate (5xx, 4xx)", format: "time_series", unit: "percent", gridPos: { h: 8, w: 12, x: 12, y: 8 } },
  {
    name: "cache-hit-ratio",
    title: "Cache hit ratio by route",
    format: "time_series",
    unit: "percent",
    gridPos: { h: 8, w: 12, x: 0, y: 16 },
  },
  {
    name: "db-round-trips",
    title: "Database round trips per request by route",
    format: "time_series",
    unit: "short",
    gridPos: { h: 8, w: 12, x: 12, y: 16 },
  },
  { name: "route-summary", title: "Per route over the time range", format: "table", unit: "short", gridPos: { h: 10, w: 24, x: 0, y: 24 } },
  { name: "colo-summary", title: "Per location (colo)", format: "table", unit: "short", gridPos: { h: 8, w: 24, x: 0, y: 34 } },
];

export const DEFAULT_DATASET = "tenpo_requests";
export const DATASETS = ["tenpo_requests", "tenpo_requests_staging"] as const;

export type MacroValues = {
  /** Window start and end, unix seconds. */
  from: number;
  to: number;
  /** Bucket size, seconds. */
  interval: number;
  dataset: string;
};

/** The window of the last `minutes` minutes ending at `nowMs`, in buckets of `stepSeconds`. */
export function windowValues(opts: { nowMs: number; minutes: number; stepSeconds: number; dataset: string }): MacroValues {
  const to = Math.floor(opts.nowMs / 1000);
  return { from: to - Math.round(opts.minutes * 60), to, interval: opts.stepSeconds, dataset: opts.dataset };
}

/** A query's SQL without its leading comment lines: what the dashboard embeds and the API receives. */
export function queryBody(sqlFile: string): string {
  return sqlFile
    .split("\n")
    .filter((line) => !line.trimStart().startsWith("--"))
    .join("\n")
    .trim();
}

/** Expands the Altinity macros and ${dataset} the way the Grafana plugin does. */
export function expandMacros(sql: string, values: MacroValues): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(values.dataset)) throw new Error(`not a dataset name: ${values.dataset}`);
  for (const [name, value] of [
    ["from", values.from],
    ["to", values.to],
    ["interval", values.interval],
  ] as const) {
    if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got ${value}`);
  }
  if (values.interval < 1) throw new Error("interval must be at least 1 second");
  if (values.to <= values.from) throw new Error("the window must end after it starts");
  const macros: Record<string, string> = {
    timeFilter: "timestamp >= toDateTime($from) AND timestamp <= toDateTime($to)",
    timeSeries: "(intDiv(toUInt32(timestamp), $interval) * $interval) * 1000",
  };
  const scalars: Record<string, string> = {
    from: String(values.from),
    to: String(values.to),
    interval: String(values.interval),
  };
  const expanded = sql
    .replaceAll("${dataset}", values.dataset)
    .replace(/\$(timeFilter|timeSeries)\b/g, (_, name: string) => macros[name]!)
    .replace(/\$(from|to|interval)\b/g, (_, name: string) => scalars[name]!);
  const left = /\$\{?[A-Za-z_]+/.exec(expanded);
  if (left) throw new Error(`unknown macro ${left[0]} in the query`);
  return expanded;
}

/** The SQL API call: POST the query text with a bearer token. */
export function sqlApiRequest(opts: { accountId: string; apiToken: string; sql: string }): {
  url: string;
  method: "POST";
  headers: Record<string, string>;
  body: string;
} {
  if (!/^[0-9a-f]{32}$/i.test(opts.accountId)) throw new Error("CLOUDFLARE_ACCOUNT_ID must be the 32-character account id");
  return {
    url: `https://api.cloudflare.com/client/v4/accounts/${opts.accountId}/analytics_engine/sql`,
    method: "POST",
    headers: { Authorization: `Bearer ${opts.apiToken}`, "Content-Type": "text/plain" },
    body: opts.sql,
  };
}

/** The SQL API's default `FORMAT JSON` answer. */
export type SqlApiResult = {
  meta: Array<{ name: string; type: string }>;
  data: Array<Record<string, unknown>>;
  rows: number;
};

export function isSqlApiResult(value: unknown): value is SqlApiResult {
  const v = value as Partial<SqlApiResult> | null;
  return typeof v === "object" && v !== null && Array.isArray(v.meta) && Array.isArray(v.data);
}

/** A readable table of a result: numbers rounded, the `t` column (bucket start, ms) as UTC time. */
export function formatResult(result: SqlApiResult): string {
  if (result.data.length === 0) return "(no rows)";
  const names = result.meta.map((m) => m.name);
  const numeric = new Set(result.meta.filter((m) => /int|float|double|decimal/i.test(m.type)).map((m) => m.name));
  const cell = (name: string, value: unknown): string => {
    if (value === null || value === undefined) return "-";
    if (name === "t" && Number.isFinite(Number(value))) return new Date(Number(value)).toISOString().slice(0, 19).replace("T", " ");
    if (typeof value === "number" || (numeric.has(name) && value !== "" && Number.isFinite(Number(value)))) {
      const n = Number(value);
      if (!Number.isFinite(n)) return "-";
      return Number.isInteger(n) ? String(n) : n.toFixed(2);
    }
    if (value === "nan" || value === "inf" || value === "-inf") return "-";
    return String(value);
  };
  const rows = result.data.map((row) => names.map((name) => cell(name, row[name])));
  const widths = names.map((name, i) => Math.max(name.length, ...rows.map((r) => r[i]!.length)));
  const rightAligned = names.map((name) => numeric.has(name) && name !== "t");
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (rightAligned[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(names), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

const DATASOURCE = { type: "vertamedia-clickhouse-datasource", uid: "${DS_TENPO_ANALYTICS_ENGINE}" } as const;

/**
 * The Grafana dashboard (scripts/analytics/grafana-dashboard.json) of these queries, for the Altinity
 * ClickHouse data source pointed at the Analytics Engine SQL API. `sqlFiles` maps a query name to the
 * text of its .sql file; each panel embeds that text without its comments.
 */
export function buildDashboard(sqlFiles: Record<QueryName, string>): Record<string, unknown> {
  return {
    __inputs: [
      {
        name: "DS_TENPO_ANALYTICS_ENGINE",
        label: "Cloudflare Analytics Engine",
        description:
          "Altinity plugin for ClickHouse: URL https://api.cloudflare.com/client/v4/accounts/<account_id>/analytics_engine/sql, " +
          "auth off, custom header Authorization: Bearer <token with Account Analytics: Read>",
        type: "datasource",
        pluginId: "vertamedia-clickhouse-datasource",
        pluginName: "Altinity plugin for ClickHouse",
      },
    ],
    __requires: [
      { type: "datasource", id: "vertamedia-clickhouse-datasource", name: "Altinity plugin for ClickHouse", version: "3.0.0" },
      { type: "panel", id: "timeseries", name: "Time series", version: "" },
      { type: "panel", id: "table", name: "Table", version: "" },
    ],
    title: "Tenpo API requests",
    description:
      "One Analytics Engine data point per request (src/observability/data-point.ts). Queries: scripts/analytics/*.sql; " +
      "regenerate with `npm run analytics -- --write-dashboard`.",
    uid: "tenpo-requests",
    tags: ["tenpo", "workers", "analytics-engine"],
    editable: true,
    schemaVersion: 39,
    version: 1,
    time: { from: "now-6h", to: "now" },
    refresh: "1m",
    timezone: "utc",
    templating: {
      list: [
        {
          name: "dataset",
          label: "Dataset",
          type: "custom",
          query: DATASETS.join(","),
          current: { selected: true, text: DEFAULT_DATASET, value: DEFAULT_DATASET },
          options: DATASETS.map((d) => ({ selected: d === DEFAULT_DATASET, text: d, value: d })),
          hide: 0,
          multi: false,
          includeAll: false,
        },
      ],
    },
    annotations: { list: [] },
    panels: QUERIES.map((q, i) => ({
      id: i + 1,
      type: q.format === "table" ? "table" : "timeseries",
      title: q.title,
      description: `scripts/analytics/${q.name}.sql`,
      datasource: DATASOURCE,
      gridPos: q.gridPos,
      fieldConfig: { defaults: { unit: q.unit }, overrides: [] },
      options: q.format === "table" ? { showHeader: true } : { legend: { displayMode: "table", placement: "right" } },
      targets: [
        {
          refId: "A",
          datasource: DATASOURCE,
          query: queryBody(sqlFiles[q.name]),
          format: q.format,
          // The time column the macros work on: Analytics Engine's `timestamp`.
          dateTimeType: "DATETIME",
          dateTimeColDataType: "timestamp",
          dateColDataType: "",
          database: "",
          table: "",
          intervalFactor: 1,
          round: "0s",
          skip_comments: true,
          extrapolate: false,
        },
      ],
    })),
  };
}
