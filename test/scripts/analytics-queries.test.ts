/**
 * Specification of the production metrics queries (scripts/analytics/*.sql), how
 * scripts/analytics-query.ts expands and sends them, and the Grafana dashboard built from them. The
 * Analytics Engine SQL API cannot be reached from here (no internet, no account), so this checks the
 * SQL text, the request and the formatting offline; the queries themselves have not run against
 * Analytics Engine.
 */
import { describe, expect, it } from "vitest";
import dashboard from "../../scripts/analytics/grafana-dashboard.json";
import {
  QUERIES,
  buildDashboard,
  expandMacros,
  formatResult,
  queryBody,
  sqlApiRequest,
  windowValues,
  type QueryName,
} from "../../scripts/analytics/queries";
import { BLOB_FIELDS, DOUBLE_FIELDS } from "../../src/observability/data-point";

// Vite's import.meta.glob (typed here rather than pulling vite/client's ambient types into every file).
declare global {
  interface ImportMeta {
    glob<T>(pattern: string, options: { query: string; import: string; eager: true }): Record<string, T>;
  }
}

const files = import.meta.glob<string>("../../scripts/analytics/*.sql", { query: "?raw", import: "default", eager: true });
const sqlFiles = Object.fromEntries(Object.entries(files).map(([path, text]) => [path.replace(/^.*\/(.+)\.sql$/, "$1"), text])) as Record<
  QueryName,
  string
>;

const values = windowValues({ nowMs: Date.UTC(2026, 10, 28, 10, 0, 0), minutes: 60, stepSeconds: 60, dataset: "tenpo_requests" });

describe("the SQL files", () => {
  it("exist for every query and nothing else", () => {
    expect(Object.keys(sqlFiles).sort()).toEqual(QUERIES.map((q) => q.name).sort());
  });

  it.each(QUERIES.map((q) => [q.name, q] as const))("%s reads the dataset's columns of the data point layout", (name, q) => {
    const sql = queryBody(sqlFiles[name]);
    expect(sql).toMatch(/^SELECT\b/);
    expect(sql).toContain("FROM ${dataset}");
    expect(sql).toContain("WHERE $timeFilter");
    // Only columns the layout has: blob1..blob5, double1..double5.
    for (const m of sql.matchAll(/\bblob(\d+)\b/g)) expect(Number(m[1])).toBeLessThanOrEqual(BLOB_FIELDS.length);
    for (const m of sql.matchAll(/\bdouble(\d+)\b/g)) expect(Number(m[1])).toBeLessThanOrEqual(DOUBLE_FIELDS.length);
    // Sampling: counts and sums are weighted by _sample_interval, never COUNT().
    expect(sql).not.toMatch(/count\(/i);
    expect(sql).toContain("_sample_interval");
    if (q.format === "time_series") expect(sql).toMatch(/^SELECT\s+\$timeSeries AS t,/);
  });

  it("match the data point layout by position", () => {
    expect(BLOB_FIELDS).toEqual(["method", "route", "status", "cache_status", "colo", "degraded"]);
    expect(DOUBLE_FIELDS).toEqual(["duration_ms", "db_round_trips", "db_ms", "cache_lookups", "cache_ms", "redis_round_trips"]);
    const summary = queryBody(sqlFiles["route-summary"]);
    expect(summary).toContain("blob1 AS method");
    expect(summary).toContain("blob2 AS route");
    expect(summary).toContain("quantileExactWeighted(0.95)(double1, _sample_interval) AS p95_ms");
    expect(summary).toContain("startsWith(blob3, '5')");
    expect(summary).toContain("blob4 IN ('HIT', 'STALE', 'MISS')");
    expect(summary).toContain("SUM(_sample_interval * double2) / SUM(_sample_interval) AS db_round_trips");
    expect(queryBody(sqlFiles["colo-summary"])).toContain("blob5 AS colo");
  });
});

describe("expandMacros", () => {
  it("expands the Altinity macros like the Grafana plugin", () => {
    expect(values).toEqual({ from: 1795860000 - 3600, to: 1795860000, interval: 60, dataset: "tenpo_requests" });
    const sql = expandMacros(queryBody(sqlFiles["requests-per-second"]), values);
    expect(sql).toBe(
      [
        "SELECT",
        "    (intDiv(toUInt32(timestamp), 60) * 60) * 1000 AS t,",
        "    format('{} {}', blob1, blob2) AS route,",
        "    SUM(_sample_interval) / 60 AS req_per_s",
        "FROM tenpo_requests",
        "WHERE timestamp >= toDateTime(1795856400) AND timestamp <= toDateTime(1795860000)",
        "GROUP BY t, route",
        "ORDER BY t",
      ].join("\n"),
    );
    expect(expandMacros(queryBody(sqlFiles["route-summary"]), values)).toContain(
      "SUM(_sample_interval) / (1795860000 - 1795856400) AS req_per_s",
    );
  });

  it("leaves no macro in any query", () => {
    for (const q of QUERIES) expect(expandMacros(queryBody(sqlFiles[q.name]), values)).not.toContain("$");
  });

  it("refuses a dataset that is not a plain name, and an unknown macro", () => {
    expect(() => expandMacros("SELECT 1 FROM ${dataset}", { ...values, dataset: "x; DROP" })).toThrow(/dataset/);
    expect(() => expandMacros("SELECT $unknown", values)).toThrow(/unknown macro/);
    expect(() => expandMacros("SELECT 1", { ...values, to: values.from })).toThrow(/window/);
  });

  it("drops only the leading comment lines", () => {
    expect(queryBody("-- a\n  -- b\nSELECT 1\nFROM t\n")).toBe("SELECT 1\nFROM t");
  });
});

describe("sqlApiRequest", () => {
  it("POSTs the SQL to the account's Analytics Engine endpoint with the bearer token", () => {
    const account = "0123456789abcdef0123456789abcdef";
    expect(sqlApiRequest({ accountId: account, apiToken: "tok", sql: "SELECT 1" })).toEqual({
      url: `https://api.cloudflare.com/client/v4/accounts/${account}/analytics_engine/sql`,
      method: "POST",
      headers: { Authorization: "Bearer tok", "Content-Type": "text/plain" },
      body: "SELECT 1",
    });
    expect(() => sqlApiRequest({ accountId: "../x", apiToken: "tok", sql: "SELECT 1" })).toThrow(/CLOUDFLARE_ACCOUNT_ID/);
  });
});

describe("formatResult", () => {
  it("prints the SQL API's JSON as a table, times in UTC and nan as -", () => {
    const text = formatResult({
      meta: [
        { name: "t", type: "UInt64" },
        { name: "route", type: "String" },
        { name: "requests", type: "UInt64" },
        { name: "p95_ms", type: "Float64" },
        { name: "cache_hit_pct", type: "Float64" },
      ],
      data: [
        { t: "1795856400000", route: "GET /api/v1/products", requests: "1200", p95_ms: 23.456, cache_hit_pct: 95.5 },
        { t: "1795856460000", route: "POST /api/v1/orders", requests: "3", p95_ms: 80, cache_hit_pct: null },
      ],
      rows: 2,
    });
    expect(text.split("\n")).toEqual([
      "t                    route                 requests  p95_ms  cache_hit_pct",
      "-------------------  --------------------  --------  ------  -------------",
      "2026-11-28 09:00:00  GET /api/v1/products      1200   23.46          95.50",
      "2026-11-28 09:01:00  POST /api/v1/orders          3      80              -",
    ]);
    expect(formatResult({ meta: [], data: [], rows: 0 })).toBe("(no rows)");
  });
});

describe("the Grafana dashboard", () => {
  it("is built from the SQL files (regenerate: npm run analytics -- --write-dashboard)", () => {
    expect(dashboard).toEqual(buildDashboard(sqlFiles));
  });

  it("uses the Altinity ClickHouse data source on Analytics Engine's timestamp column, one panel per query", () => {
    const panels = dashboard.panels as Array<{ title: string; datasource: { type: string }; targets: Array<Record<string, unknown>> }>;
    expect(panels).toHaveLength(QUERIES.length);
    for (const [i, panel] of panels.entries()) {
      expect(panel.datasource.type).toBe("vertamedia-clickhouse-datasource");
      expect(panel.targets[0]).toMatchObject({
        query: queryBody(sqlFiles[QUERIES[i]!.name]),
        format: QUERIES[i]!.format,
        dateTimeColDataType: "timestamp",
      });
    }
    expect(dashboard.templating.list[0]).toMatchObject({ name: "dataset", query: "tenpo_requests,tenpo_requests_staging" });
  });
});
