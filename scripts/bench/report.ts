/**
 * The benchmark's report: its shape (JSON) and its Markdown tables. Every phase is shown as a share of
 * the hello world on npm start's path measured in the same run; targets come from scripts/bench/targets.ts.
 */
import { catalogHitText, errorText, pct } from "../../load/report";
import type { ScenarioResult } from "../../load/scenario";
import type { StorefrontResult } from "../../load/storefront";
import { purchasesText, storefrontStepTable } from "../../load/storefront-report";
import { AGREEMENT, probePairs, runAgreements, servedFrom } from "../../load/latency/model";
import { agreementRows } from "../../load/latency/report";
import type { CostEstimate } from "./cost";
import type { PhaseResult, ProbeResult } from "./phases";
import type { ProcRole } from "./proc";
import { roundTripsText, type RoundTrips } from "./round-trips";
import type { ScenarioCounters } from "./scenario-run";
import type { TargetResult } from "./targets";

/** One Locust run and the counters read around it. */
export interface MixedRun extends ScenarioCounters {
  label: string;
  result: ScenarioResult;
}

/** The storefront user's run (load/storefront.ts) and the counters read around it. */
export interface StorefrontRun extends ScenarioCounters {
  label: string;
  skipped: null;
  result: StorefrontResult;
  /**
   * SQL-over-HTTP requests during the run ÷ purchases paid: everything one purchase cost the database,
   * the webhook's work, the e-mail and the purchases that did not finish included. Null when none was paid.
   */
  db_round_trips_per_purchase: number | null;
}

/** The storefront phase when it could not run, and why ("n/a: …"). */
export interface StorefrontSkipped {
  label: string;
  skipped: string;
}

/** A hello world measured at the start and at the end of the run. */
export interface Reference {
  start_rps: number | null;
  end_rps: number | null;
  /** What ratios use: the mean of the two clean runs (or the one that was clean). */
  used_rps: number | null;
  /** (end − start) ÷ start. */
  drift: number | null;
}

/** Everything one run measured, as written to bench-<timestamp>.json. */
export interface BenchReport {
  started_at: string;
  finished_at: string;
  elapsed_s: number;
  machine: Record<string, string | number>;
  serving_path: {
    description: string;
    differences_from_npm_start: string[];
    /** LOG_REQUESTS and where the Worker's output went. */
    request_log: string;
    metrics_sink: string;
    app_vars: Record<string, string>;
    bare_workerd_config: string | null;
  };
  settings: Record<string, number | boolean | string>;
  hello: { miniflare: Reference; workerd: Reference };
  /** --rtt's round trips, charged from after the logins to the end (but for the probes' other half); null without. */
  round_trips: RoundTrips | null;
  phases: PhaseResult[];
  /** The chapter's mix as one shopper (probed only, never loaded); null when no login worked. */
  mix_probe: { label: string; probe: ProbeResult; probe_rtt: ProbeResult | null } | null;
  mixed: MixedRun[];
  /** The storefront user after the Locust runs; null when the run had no storefront phase. */
  storefront: StorefrontRun | StorefrontSkipped | null;
  /** One million requests of the no-think-time Locust mix on Workers Standard. */
  cost: (CostEstimate & { basis: string }) | null;
  targets: TargetResult[];
}

/** The start and end runs of one hello world, combined. */
export function referenceOf(start: PhaseResult | undefined, end: PhaseResult | undefined): Reference {
  const usable = (p?: PhaseResult): number | null => (p && !p.skipped && p.requests > 0 && p.errors === 0 ? p.rps : null);
  const a = usable(start);
  const b = usable(end);
  const used = a !== null && b !== null ? (a + b) / 2 : (a ?? b);
  return {
    start_rps: a,
    end_rps: b,
    used_rps: used === null ? null : Math.round(used),
    drift: a !== null && b !== null ? Math.round(((b - a) / a) * 1000) / 1000 : null,
  };
}

const num = (v: number | null | undefined, digits = 2): string =>
  v === null || v === undefined ? "n/a" : String(Math.round(v * 10 ** digits) / 10 ** digits);
const dash = (v: number | null | undefined, digits = 2): string => (v === null || v === undefined ? "—" : num(v, digits));

function cpuCells(cpu: Record<ProcRole, number> | null): string {
  if (!cpu) return "n/a | n/a | n/a | n/a";
  return `${num(cpu.worker)} | ${num(cpu.host)} | ${num(cpu.services)} | ${num(cpu.datastores)}`;
}

/** The main table: every phase and both Locust runs, in the order they ran. */
export function phaseTable(report: BenchReport): string {
  const ceiling = report.hello.miniflare.used_rps;
  const ratio = (rps: number): string => (ceiling ? pct(rps / ceiling, 0) : "n/a");
  const phaseRow = (p: PhaseResult): string => {
    if (p.skipped) return `| ${p.label} | ${p.skipped} |${" |".repeat(16)}`;
    const probe = p.probe;
    const probeCell = probe ? `${probe.db_round_trips_median} / ${num(probe.db_round_trips_per_request, 3)}` : "—";
    const timing = probe?.server_timing_db_median;
    return [
      p.label,
      p.rps.toLocaleString("en-US"),
      ratio(p.rps),
      p.p50_ms,
      p.p95_ms,
      p.p99_ms,
      errorText(p),
      probeCell,
      timing === null || timing === undefined ? "—" : timing,
      probe ? num(probe.db_round_trips_with_background_per_request, 3) : "—",
      dash(p.db_round_trips_per_request, 3),
      dash(p.cache_round_trips_per_request, 3),
      cpuCells(p.cpu_ms_per_request),
      num(p.other_load_cores),
      p.x_cache ? xCacheText(p.x_cache) : "",
    ]
      .join(" | ")
      .replace(/^/, "| ")
      .replace(/$/, " |");
  };
  const mixedRow = (m: MixedRun): string => {
    const o = m.result.overall;
    return [
      m.label,
      o.rps.toLocaleString("en-US"),
      ratio(o.rps),
      o.p50_ms,
      o.p95_ms,
      o.p99_ms,
      errorText(o),
      "—",
      "—",
      "—",
      dash(m.db_round_trips_per_request, 3),
      dash(m.cache_round_trips_per_request, 3),
      cpuCells(m.cpu_ms_per_request),
      num(m.other_load_cores),
      `catalog ${catalogHitText(m.result)}`,
    ]
      .join(" | ")
      .replace(/^/, "| ")
      .replace(/$/, " |");
  };
  const storefrontRow = (sf: StorefrontRun | StorefrontSkipped): string => {
    if (sf.skipped !== null) return `| ${sf.label} | ${sf.skipped} |${" |".repeat(16)}`;
    const o = sf.result.overall;
    return [
      sf.label,
      o.rps.toLocaleString("en-US"),
      ratio(o.rps),
      o.p50_ms,
      o.p95_ms,
      o.p99_ms,
      errorText(o),
      "—",
      "—",
      "—",
      dash(sf.db_round_trips_per_request, 3),
      dash(sf.cache_round_trips_per_request, 3),
      cpuCells(sf.cpu_ms_per_request),
      num(sf.other_load_cores),
      `catalog ${catalogHitText(sf.result)}`,
    ]
      .join(" | ")
      .replace(/^/, "| ")
      .replace(/$/, " |");
  };
  // The Locust runs and the storefront sit where they ran: after the autocannon phases, before the closing hello worlds.
  const closing = report.phases.filter((p) => p.key.endsWith("-end"));
  const rows = [
    ...report.phases.filter((p) => !p.key.endsWith("-end")).map(phaseRow),
    ...report.mixed.map(mixedRow),
    ...(report.storefront ? [storefrontRow(report.storefront)] : []),
    ...closing.map(phaseRow),
  ];
  return [
    "| phase | req/s | of hello (npm start path) | p50 ms | p95 ms | p99 ms | errors | DB RT/req probe median / mean | DB RT/req Server-Timing (probe median) | DB RT/req probe incl. background | DB RT/req under load | Redis REST calls/req | CPU ms/req workerd | CPU ms/req Miniflare host (Node) | CPU ms/req Node services | CPU ms/req PostgreSQL + Redis | other load (cores) | X-Cache |",
    "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ...rows,
  ].join("\n");
}

/** Per-endpoint tables of each Locust run. */
export function mixedTables(report: BenchReport): string {
  return report.mixed
    .map((m) => {
      const r = m.result;
      const rows = [...r.endpoints, r.overall].map(
        (e) =>
          `| ${e.endpoint} | ${e.requests} | ${e.rps} | ${e.p50_ms} | ${e.p95_ms} | ${e.p99_ms} | ${errorText(e)} | ${e.x_cache ? (e.hit_ratio === null ? "n/a" : pct(e.hit_ratio)) : ""} |`,
      );
      return [
        `**${m.label}** (${r.users} users, spawn ${r.spawn_rate}/s, ${r.window_s} s, logins ${r.accounts === "chapter" ? "as test@example.com" : "spread over user1..1000"}, ${r.logins_failed} failed)`,
        "",
        "| endpoint | requests | req/s | p50 ms | p95 ms | p99 ms | errors | hit ratio |",
        "|---|---:|---:|---:|---:|---:|---|---:|",
        ...rows,
      ].join("\n");
    })
    .join("\n\n");
}

/**
 * The storefront user's section: what ran, the per-step table (round trips from Server-Timing, exact),
 * what the purchases came to, and what the database did per purchase in all.
 */
export function storefrontSection(sf: StorefrontRun | StorefrontSkipped | null): string {
  if (!sf) return "";
  if (sf.skipped !== null) return `**${sf.label}**: ${sf.skipped}`;
  const r = sf.result;
  return [
    `**${sf.label}** (${r.users} users, spawn ${r.spawn_rate}/s, ${r.window_s} s, no think time, logins spread over user1..${r.users}, ` +
      `${r.logins_failed} failed; payments confirmed at the bench's Stripe stand-in)`,
    "",
    storefrontStepTable(r),
    "",
    `${purchasesText(r)}. ` +
      `Database in all (SQL-over-HTTP, the webhooks and e-mails included): ${dash(sf.db_round_trips_per_request, 3)} round trips per request, ` +
      `${dash(sf.db_round_trips_per_purchase, 2)} per purchase paid.`,
  ].join("\n");
}

/**
 * One shopper, one request at a time: each probed endpoint's latency and round trips with no round trip
 * charged and, under --rtt, the model's prediction for the run's round trips against the measurement.
 */
export function roundTripSection(report: Pick<BenchReport, "phases" | "mix_probe" | "round_trips">): string {
  const rows = probePairs<ProbeResult>(report);
  if (rows.length === 0) return "";
  const rt = report.round_trips;
  if (rt) {
    const mix = report.mix_probe;
    return [
      `### Round trips: ${roundTripsText(rt)}`,
      "",
      "Sequential probes (one request at a time, each after the database was quiet): every request once with no round trip charged and once with them, interleaved. " +
        `*Predicted* = load/latency/model.ts from the requests with none (own time + client + db round trips × db + redis round trips × redis, the Worker's own counts); ` +
        `*floor* = what the round trips alone cost at the measured median counts. An endpoint whose requests made different round trips (a cached read that paid the version read, or went to the database) has a row per count. ` +
        `Agreement: p50 within ${pct(AGREEMENT, 0)}.`,
      "",
      agreementRows(runAgreements(report)),
      ...(mix?.probe_rtt ? ["", oneShopperText(mix.probe, mix.probe_rtt)] : []),
    ].join("\n");
  }
  return [
    "### One request at a time",
    "",
    "Sequential probes, each request after the database was quiet: the input of the latency model (`npm run latency-model`). `npm run bench -- --rtt …` charges real round trips.",
    "",
    "| endpoint | DB RT (median) | Redis RT (median) | p50 ms | p95 ms | statuses |",
    "|---|---:|---:|---:|---:|---|",
    ...rows.map((e) => {
      const p = e.probe;
      const statuses = Object.entries(p.statuses)
        .map(([k, n]) => `${k} × ${n}`)
        .join(", ");
      return `| ${e.label} | ${p.server_timing_db_median ?? p.db_round_trips_median} | ${p.redis_round_trips_median} | ${p.latency.p50_ms} | ${p.latency.p95_ms} | ${statuses} |`;
    }),
  ].join("\n");
}

/** The mix probe: one shopper doing the chapter's mix, as measured, with its share of reads from the cache. */
function oneShopperText(zero: ProbeResult, measured: ProbeResult): string {
  const reads = measured.latency.samples.filter((s) => servedFrom(s) !== null);
  const fromCache = reads.filter((s) => servedFrom(s) === "cache").length;
  return (
    `One shopper doing the chapter's mix, one request at a time (${measured.requests} requests each way): p50 / p95 ${zero.latency.p50_ms} / ${zero.latency.p95_ms} ms with no round trip charged, ` +
    `${measured.latency.p50_ms} / ${measured.latency.p95_ms} ms with them; ${fromCache} of its ${reads.length} catalog reads were answered from the cache ` +
    "(a product nobody read in the last 5 s goes to the database: src/cache/policy.ts). Not checked against the model: its p50 falls on a cached read or on a database round trip depending on that share."
  );
}

/** PASS / MISS / n/a, one row per target. */
export function targetTable(targets: TargetResult[]): string {
  return [
    "| target | measured | result |",
    "|---|---|---|",
    ...targets.map((t) => `| ${t.target} | ${t.measured} | **${t.verdict}** |`),
  ].join("\n");
}

function referenceText(name: string, r: Reference): string {
  const drift =
    r.drift === null
      ? ""
      : ` (drift ${pct(r.drift, 0)}${Math.abs(r.drift) > 0.2 ? ": the machine's load changed during the run, compare with care" : ""})`;
  return `${name}: ${num(r.start_rps, 0)} req/s at the start, ${num(r.end_rps, 0)} at the end${drift}; ratios use ${num(r.used_rps, 0)}.`;
}

/** Measurements that started while the database was still busy with earlier work, if any. */
function settleText(report: BenchReport): string {
  const busy = [
    ...report.phases.filter((p) => p.settle && !p.settle.quiet).map((p) => p.label),
    ...report.mixed.filter((m) => !m.settle.quiet).map((m) => m.label),
    ...(report.storefront && report.storefront.skipped === null && !report.storefront.settle.quiet ? [report.storefront.label] : []),
  ];
  const base =
    "Before each measurement the bench waited until the database had been quiet for 3 s (longer than the e-mail queue's 2 s batch timeout), at most 120 s";
  return busy.length
    ? `${base}; it never went quiet before: ${busy.join(", ")} (their counters include earlier work).`
    : `${base}; it always did.`;
}

function costText(report: BenchReport): string {
  const c = report.cost;
  if (!c) return "Cost: n/a (no CPU figure for the no-think-time Locust run).";
  return (
    `Cost on Workers Standard of one million requests of the FastAPI original's mix (the no-think-time Locust run): ` +
    `**$${c.total_usd.toFixed(4)}** = $${c.requests_usd.toFixed(2)} (requests) + $0.02 × ${num(c.cpu_ms_per_request, 3)} CPU-ms/req = $${c.cpu_usd.toFixed(4)} (CPU). ${c.basis}`
  );
}

/** The whole report as Markdown (what the bench prints and writes to bench-<timestamp>.md). */
export function benchMarkdown(report: BenchReport): string {
  const m = report.machine;
  const sp = report.serving_path;
  return [
    `# Tenpo benchmark ${report.started_at}`,
    "",
    `Machine: ${m.cpu} × ${m.cores} cores, ${m.memory_gb} GB, load average ${m.load_start} at the start, ${m.load_end} at the end; ` +
      `Node ${m.node}, wrangler ${m.wrangler}, miniflare ${m.miniflare}, workerd ${m.workerd}; code ${m.git}. Took ${report.elapsed_s} s.`,
    "",
    `Serving path: ${sp.description}`,
    "",
    `Differs from \`npm start\`: ${sp.differences_from_npm_start.join("; ")}.`,
    "",
    `Request log: ${sp.request_log}. Metrics: ${sp.metrics_sink}.`,
    "",
    `Settings: ${Object.entries(report.settings)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}.`,
    "",
    referenceText("Hello world on npm start's path (Miniflare, direct socket)", report.hello.miniflare),
    referenceText("Hello world on bare `workerd serve`", report.hello.workerd),
    "",
    phaseTable(report),
    "",
    "How to read it: *of hello* = req/s ÷ the hello world on npm start's path (mean of start and end). " +
      "*DB RT/req*: SQL-over-HTTP requests for this run's database; *probe* = sequential requests, each after the database was quiet (median / mean of the external count), " +
      "*Server-Timing* = the Worker's own count of the handler's queries, *incl. background* = everything the probe set off, counted until the database was quiet again, " +
      "*under load* = over the measured window ÷ responses (background work included). " +
      "*CPU ms/req*: utime + stime from /proc ÷ responses, for the workerd serving the phase's Worker (Miniflare's workerd also runs its entry worker and the simulated KV / Cache API / Queues), " +
      "the Node process hosting that runtime, the bench's Node services (SQL-over-HTTP, Upstash REST, mail sink), and every `postgres` and `redis-server` process on the machine " +
      "(shared daemons: other people's test suites on them are counted too; backends that exit mid-phase are lost). " +
      "*Other load*: cores busy with anything else on the machine during the measurement (/proc/stat minus the bench's processes, PostgreSQL and Redis): other people's work, which lowers every figure of that phase.",
    "",
    settleText(report),
    "",
    costText(report),
    "",
    mixedTables(report),
    "",
    ...(report.storefront ? [storefrontSection(report.storefront), ""] : []),
    roundTripSection(report),
    "",
    "## Targets",
    "",
    targetTable(report.targets),
    "",
  ].join("\n");
}

function xCacheText(x: Record<string, number>): string {
  const entries = Object.entries(x).filter(([, n]) => n > 0);
  if (entries.length === 0) return "";
  if (entries.every(([k]) => k === "none")) return "no X-Cache header";
  return entries.map(([k, n]) => `${k} ${n}`).join(", ");
}
