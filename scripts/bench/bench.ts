/**
 * `npm run bench`: starts the stack in its benchmark configuration (scripts/bench/stack.ts says exactly
 * how it differs from `npm start`; the serving path is npm start's: the production bundle on workerd
 * through Miniflare, direct socket), measures everything in ONE run, prints a Markdown table and writes
 * load/results/bench-<timestamp>.{json,md,svg} (plus the logs). See load/README.md.
 *
 *   1. scripts/hello-world.js on npm start's path and on bare `workerd serve`: the REFERENCES every
 *      phase is compared with, then the app's `GET /health`;
 *   2. fixed concurrency (autocannon): cached list (pages 1..10 at random), cached detail (products
 *      1..100 at random), uncached search, orders list, order create — each warmed up, probed with
 *      sequential requests (exact round trips per request), then measured;
 *   3. the FastAPI original's Locust user (load/scenario.ts) at 200 users, without think time and with 1–3 s;
 *   4. the storefront user (load/storefront.ts: browse → cart → checkout → pay at the bench's Stripe
 *      stand-in → paid) at 20 users for 20 s, its round trips per step from Server-Timing;
 *   5. both hello worlds again (drift check), the cost of a million requests, PASS / MISS / n/a per target.
 *
 *   --quick              short phases, 10 connections, 20 users (storefront: 3 users, 5 s): a smoke test (~1–2 min), not a benchmark
 *   --connections N      autocannon connections per phase (default 50)
 *   --duration S         seconds measured per phase (default 10)
 *   --warmup S           seconds of warm-up per phase (default 3)
 *   --mixed-users N      users in the Locust scenario (default 200)
 *   --mixed-duration S   its duration (default 30)
 *   --no-think-time-run  skip the Locust scenario with the original's 1–3 s think time (run by default)
 *   --storefront-users N     users of the storefront phase (default 20, at most 1000)
 *   --storefront-duration S  its duration (default 20)
 *   --request-log        the Worker's per-request JSON log line on (LOG_REQUESTS=true), to bench-<timestamp>-worker.log
 *   --kv-cache           run the catalog cache on KV alone (like `npm start -- --kv-cache`)
 *   --embedded-db        use the embedded PGlite even when a PostgreSQL answers
 *   --rtt client=MS,db=MS,redis=MS  make each hop cost that much per round trip, for real (scripts/bench/round-trips.ts):
 *                        every probed request is sent once without and once with them (interleaved), the rest runs
 *                        with them, and the report compares what load/latency/model.ts predicts with what was measured
 *   --strict             exit with status 3 when a target is MISSed (n/a does not count)
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { latencyChartSvg } from "../../load/chart";
import { DEMO_PASSWORD, NUMBERED_USERS, PRODUCT_COUNT, SEARCH_TERMS, numberedUser, pick, randomInt } from "../../load/demo";
import { fileStamp, writeScenarioReport } from "../../load/report";
import { runLocustScenario } from "../../load/scenario";
import { costPerMillionRequests } from "./cost";
import { runPhase, runProbes, send, type PhaseResult, type PhaseSettings, type PhaseSpec, type ProbedSpec } from "./phases";
import { benchMarkdown, referenceOf, type BenchReport, type MixedRun } from "./report";
import { parseRoundTrips, roundTripsText } from "./round-trips";
import { measureScenario } from "./scenario-run";
import { runStorefrontPhase, storefrontLabel } from "./storefront-phase";
import { ROOT, startBenchStack, stopActiveStacks, type BenchStack } from "./stack";
import { evaluateTargets } from "./targets";

const log = (line: string): void => console.log(`[bench] ${line}`);
/** Set on Ctrl-C / SIGTERM: the stack is being stopped under the running phase, whose errors are moot. */
let interrupted = false;

interface Settings extends PhaseSettings {
  quick: boolean;
  logins: number;
  mixedUsers: number;
  mixedDurationS: number;
  withWait: boolean;
  storefrontUsers: number;
  storefrontDurationS: number;
  requestLog: boolean;
  kvCache: boolean;
  embeddedDb: boolean;
  strict: boolean;
}

function parseSettings(argv: string[]): Settings {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean", default: false },
      connections: { type: "string" },
      duration: { type: "string" },
      warmup: { type: "string" },
      "mixed-users": { type: "string" },
      "mixed-duration": { type: "string" },
      "no-think-time-run": { type: "boolean", default: false },
      "storefront-users": { type: "string" },
      "storefront-duration": { type: "string" },
      "request-log": { type: "boolean", default: false },
      "kv-cache": { type: "boolean", default: false },
      "embedded-db": { type: "boolean", default: false },
      strict: { type: "boolean", default: false },
      rtt: { type: "string" },
    },
    strict: true,
  });
  const q = values.quick;
  const num = (raw: string | undefined, fallback: number, name: string, max: number): number => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0 || n > max) throw new Error(`--${name} must be in (0, ${max}]`);
    return n;
  };
  return {
    quick: q,
    connections: num(values.connections, q ? 10 : 50, "connections", 1000),
    durationS: num(values.duration, q ? 3 : 10, "duration", 120),
    warmupS: num(values.warmup, q ? 1 : 3, "warmup", 60),
    probeRequests: q ? 10 : 30,
    logins: q ? 10 : 50,
    mixedUsers: num(values["mixed-users"], q ? 20 : 200, "mixed-users", 2000),
    mixedDurationS: num(values["mixed-duration"], q ? 6 : 30, "mixed-duration", 300),
    withWait: !values["no-think-time-run"],
    storefrontUsers: num(values["storefront-users"], q ? 3 : 20, "storefront-users", NUMBERED_USERS),
    storefrontDurationS: num(values["storefront-duration"], q ? 5 : 20, "storefront-duration", 300),
    requestLog: values["request-log"],
    kvCache: values["kv-cache"],
    embeddedDb: values["embedded-db"],
    strict: values.strict,
    roundTrips: values.rtt === undefined ? null : parseRoundTrips(values.rtt),
  };
}

/** Bearer tokens for user1..userN, a few logins at a time (each is a PBKDF2 in the Worker). */
async function loginMany(apiUrl: string, count: number): Promise<{ tokens: string[]; failure: string | null }> {
  const tokens: string[] = [];
  let failure: string | null = null;
  for (let i = 0; i < count; i += 5) {
    const batch = Array.from({ length: Math.min(5, count - i) }, (_, k) =>
      send(apiUrl, "POST", { path: "/api/v1/auth/login", body: { username: numberedUser(i + k), password: DEMO_PASSWORD } }),
    );
    for (const res of await Promise.all(batch)) {
      const token = res.status === 200 ? (JSON.parse(res.text) as { access_token?: string }).access_token : undefined;
      if (token) tokens.push(token);
      else failure = `login answered ${res.status}`;
    }
  }
  return { tokens, failure };
}

const HELLO_MINIFLARE: PhaseSpec = {
  key: "hello-miniflare",
  label: "hello world, npm start's path (Miniflare, direct socket)",
  target: "hello-miniflare",
  method: "GET",
  next: () => ({ path: "/" }),
};
const HELLO_WORKERD: PhaseSpec = {
  key: "hello-workerd",
  label: "hello world, bare workerd serve",
  target: "hello-workerd",
  method: "GET",
  next: () => ({ path: "/" }),
};

/** The autocannon phases against the app, in order. */
function appPhaseSpecs(tokens: string[]): PhaseSpec[] {
  let next = 0;
  const token = (): string | undefined => (tokens.length ? tokens[next++ % tokens.length] : undefined);
  const sorts = ["id", "price", "-price", "created_at", "-created_at", "name"];
  return [
    { key: "health", label: "app GET /health", target: "app", method: "GET", next: () => ({ path: "/health" }) },
    // The original's traffic: 10 list pages and 100 products, at random, as the Locust user reads them.
    {
      key: "list",
      label: "cached list GET /api/v1/products?page=1..10",
      target: "app",
      method: "GET",
      cached: true,
      next: () => ({ path: `/api/v1/products?page=${randomInt(1, 10)}` }),
    },
    {
      key: "detail",
      label: "cached detail GET /api/v1/products/1..100",
      target: "app",
      method: "GET",
      cached: true,
      next: () => ({ path: `/api/v1/products/${randomInt(1, 100)}` }),
    },
    {
      key: "search",
      label: "uncached search GET /api/v1/products?q=…",
      target: "app",
      method: "GET",
      cached: true,
      // 50 words × 6 sorts × 5 pages × 21 page sizes: ~31,500 distinct queries, so nearly every one misses.
      next: () => ({
        path: `/api/v1/products?q=${pick(SEARCH_TERMS)}&sort=${pick(sorts)}&page=${randomInt(1, 5)}&page_size=${randomInt(10, 30)}`,
      }),
    },
    {
      key: "orders-list",
      label: "orders list GET /api/v1/orders",
      target: "app",
      method: "GET",
      auth: true,
      next: () => ({ path: "/api/v1/orders", token: token() }),
    },
    {
      key: "order-create",
      label: "order create POST /api/v1/orders",
      target: "app",
      method: "POST",
      auth: true,
      // Any of the 10,000 products (1,000–5,000 in stock each), one unit, tokens round robin: stock and
      // per-user limits stay out of the way.
      next: () => ({
        path: "/api/v1/orders",
        token: token(),
        body: { items: [{ product_id: randomInt(1, PRODUCT_COUNT), quantity: 1 }] },
      }),
    },
  ];
}

/** Which phases get the sequential probe: /health (the floor) and the endpoints the latency model covers; not search. */
const PROBED = new Set(["health", "list", "detail", "orders-list", "order-create"]);

/**
 * The chapter's Locust user as one shopper, one request at a time: 3 list reads : 2 detail reads :
 * 1 order (load/scenario.ts), probed like a phase, never loaded (the Locust runs load it).
 */
function chapterMixSpec(tokens: string[]): ProbedSpec {
  let next = 0;
  return {
    label: "the chapter's mix, one shopper (3 list : 2 detail : 1 order)",
    target: "app",
    method: "GET",
    cached: true,
    next: () => {
      const roll = Math.random() * 6;
      if (roll < 3) return { kind: "list", path: `/api/v1/products?page=${randomInt(1, 10)}` };
      if (roll < 5) return { kind: "detail", path: `/api/v1/products/${randomInt(1, 100)}` };
      return {
        kind: "order",
        method: "POST",
        path: "/api/v1/orders",
        token: tokens[next++ % tokens.length],
        body: { items: [{ product_id: randomInt(1, 100), quantity: randomInt(1, 3) }] },
      };
    },
  };
}

async function runMixed(stack: BenchStack, s: Settings, wait: boolean, outDir: string): Promise<MixedRun> {
  const label = `Locust user, ${s.mixedUsers} users, ${wait ? "think time 1–3 s" : "no think time"}`;
  const { result, counters } = await measureScenario(
    stack,
    label,
    log,
    () =>
      runLocustScenario({
        target: stack.apiUrl,
        users: s.mixedUsers,
        spawnRate: 100,
        durationS: s.mixedDurationS,
        wait,
        accounts: "spread",
        progress: (line) => log(`  ${line}`),
      }),
    (r) => r.overall.requests,
  );
  writeScenarioReport(outDir, result);
  return { label, result, ...counters };
}

function machineInfo(): Record<string, string | number> {
  const version = (pkg: string): string => {
    try {
      return (JSON.parse(readFileSync(join(ROOT, "node_modules", pkg, "package.json"), "utf8")) as { version: string }).version;
    } catch {
      return "?";
    }
  };
  let git = "?";
  try {
    const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain"], { cwd: ROOT, encoding: "utf8" }).trim() !== "";
    git = `${commit}${dirty ? " + uncommitted changes" : ""}`;
  } catch {
    // Not a git checkout.
  }
  return {
    cpu: os.cpus()[0]?.model.trim() ?? "?",
    cores: os.cpus().length,
    memory_gb: Math.round(os.totalmem() / 2 ** 30),
    load_start: os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" "),
    load_end: "",
    node: process.versions.node,
    wrangler: version("wrangler"),
    miniflare: version("miniflare"),
    workerd: version("workerd"),
    git,
  };
}

/** One line when a phase starts and one when it ends, numbered over the whole run. */
class Progress {
  private done = 0;
  constructor(private readonly total: number) {}
  start(label: string): number {
    log(`phase ${this.done + 1}/${this.total} start: ${label}`);
    return performance.now();
  }
  end(label: string, since: number, summary: string): void {
    this.done += 1;
    log(`phase ${this.done}/${this.total} end (${((performance.now() - since) / 1000).toFixed(0)} s): ${label}: ${summary}`);
  }
}

function phaseSummary(p: PhaseResult): string {
  return p.skipped ?? `${p.rps} req/s, p50 ${p.p50_ms} ms, p99 ${p.p99_ms} ms, ${p.errors} errors`;
}

async function main(): Promise<void> {
  const settings = parseSettings(process.argv.slice(2));
  const startedAt = new Date();
  const stamp = fileStamp(startedAt);
  const resultsDir = join(ROOT, "load/results");
  mkdirSync(resultsDir, { recursive: true });
  const base = join(resultsDir, `bench-${stamp}`);
  const workerLogFile = `${base}-worker.log`;
  const machine = machineInfo();
  log(`${settings.quick ? "QUICK smoke run (not a benchmark)" : "benchmark"}; results in ${base}.{json,md,svg}`);
  if (Number(os.loadavg()[0]) > os.cpus().length)
    log(`warning: load average ${machine.load_start} is above the core count; the figures will be low`);

  let stack: BenchStack | undefined;
  const onSignal = (signal: string): void => {
    if (interrupted) return;
    interrupted = true;
    log(`${signal}: stopping everything the bench started…`);
    void stopActiveStacks().finally(() => {
      log("stopped");
      process.exit(130);
    });
  };
  process.on("SIGINT", () => onSignal("SIGINT"));
  process.on("SIGTERM", () => onSignal("SIGTERM"));

  try {
    stack = await startBenchStack({
      kvCache: settings.kvCache,
      embeddedDb: settings.embeddedDb,
      requestLog: settings.requestLog,
      logFile: `${base}.log`,
      workerLogFile,
      clientProxies: settings.roundTrips !== null,
      log,
    });
    log(`logging in ${settings.logins} users for the authenticated phases…`);
    const { tokens, failure } = await loginMany(stack.apiUrl, settings.logins);
    if (failure) log(`some logins failed (${failure}); ${tokens.length} tokens`);
    if (settings.roundTrips) {
      log(`round trips from now on: ${roundTripsText(settings.roundTrips)} (half of each probe's requests go without them)`);
      await stack.setRoundTrips(settings.roundTrips);
    }

    const opening = [HELLO_MINIFLARE, HELLO_WORKERD, ...appPhaseSpecs(tokens)];
    const closing: PhaseSpec[] = [HELLO_MINIFLARE, HELLO_WORKERD].map((spec) => ({
      ...spec,
      key: `${spec.key}-end`,
      label: `${spec.label}, again at the end`,
    }));
    const locustRuns = settings.withWait ? [false, true] : [false];
    const mixProbed = tokens.length > 0;
    const progress = new Progress(opening.length + (mixProbed ? 1 : 0) + locustRuns.length + 1 + closing.length);
    const phases: PhaseResult[] = [];
    const measure = async (spec: PhaseSpec): Promise<void> => {
      const since = progress.start(spec.label);
      const result = await runPhase(stack!, spec, { ...settings, probeRequests: PROBED.has(spec.key) ? settings.probeRequests : 0 }, log);
      phases.push(result);
      progress.end(spec.label, since, phaseSummary(result));
    };

    for (const spec of opening) await measure(spec);
    let mixProbe: BenchReport["mix_probe"] = null;
    if (mixProbed) {
      const spec = chapterMixSpec(tokens);
      const since = progress.start(spec.label);
      const probes = await runProbes(stack, spec, settings.probeRequests * 2, settings.roundTrips, log);
      mixProbe = { label: spec.label, ...probes };
      const last = probes.probe_rtt ?? probes.probe;
      progress.end(spec.label, since, `${last.requests} requests, p50 ${last.latency.p50_ms} ms, p95 ${last.latency.p95_ms} ms`);
    }
    const mixed: MixedRun[] = [];
    for (const wait of locustRuns) {
      const label = `Locust user, ${settings.mixedUsers} users, ${wait ? "think time 1–3 s" : "no think time"}, ${settings.mixedDurationS} s`;
      const since = progress.start(label);
      const run = await runMixed(stack, settings, wait, `${base}-locust-${wait ? "wait" : "no-wait"}`);
      mixed.push(run);
      const o = run.result.overall;
      progress.end(label, since, `${o.rps} req/s, p50 ${o.p50_ms} ms, p99 ${o.p99_ms} ms, ${o.errors} errors`);
    }
    const storefrontSince = progress.start(storefrontLabel(settings.storefrontUsers, settings.storefrontDurationS));
    const storefront = await runStorefrontPhase(stack, {
      users: settings.storefrontUsers,
      durationS: settings.storefrontDurationS,
      outDir: `${base}-storefront`,
      stripe: stack.stripe,
      log,
    });
    progress.end(
      storefront.label,
      storefrontSince,
      storefront.skipped ??
        `${storefront.result.flows.completed_per_s} purchases paid/s, ${storefront.result.overall.rps} req/s, ` +
          `p50 ${storefront.result.overall.p50_ms} ms, p99 ${storefront.result.overall.p99_ms} ms, ${storefront.result.overall.errors} errors`,
    );
    for (const spec of closing) await measure(spec);

    machine.load_end = os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ");
    const byKey = (key: string): PhaseResult | undefined => phases.find((p) => p.key === key);
    const noWait = mixed.find((m) => !m.result.wait);
    const cost = costPerMillionRequests(noWait?.cpu_ms_per_request?.worker ?? null);
    const report: BenchReport = {
      started_at: startedAt.toISOString(),
      finished_at: new Date().toISOString(),
      elapsed_s: Math.round((Date.now() - startedAt.getTime()) / 1000),
      machine,
      serving_path: {
        description:
          "npm start's: the production bundle (`wrangler deploy --dry-run`, built from a snapshot of the working tree) on workerd through Miniflare's API, " +
          "the API port bound directly to the Worker (`unsafeDirectSockets`: no Miniflare entry worker, no dev proxy), Miniflare's simulated KV / Cache API / Queues " +
          `in the same workerd process; each runtime in a child process of its own, the servers in another; database ${stack.services.databaseNote}; cache ${stack.services.cacheNote}.`,
        differences_from_npm_start: [
          "own ports (API 8797, hello worlds 8798 / 8799, SQL 4454, Upstash 8089 unless taken; Miniflare's entry and the mail sink on free ports)",
          "no cron triggers fired",
          "an empty persist folder (fresh KV / Cache API / queues), a fresh database cloned from a seeded template, a flushed Redis logical database",
          "a snapshot of the working tree (edits during the run are not measured)",
        ],
        request_log: settings.requestLog
          ? `ON (--request-log: LOG_REQUESTS=true, one JSON line per request, written to ${workerLogFile} through the Miniflare host)`
          : `off (LOG_REQUESTS=false; failed requests still log; the Worker's output goes to ${workerLogFile}); --request-log turns it on`,
        metrics_sink: "no metrics sink (METRICS_SINK_URL empty, as wrangler.toml has it; npm start runs scripts/metrics-sink.ts)",
        app_vars: stack.appVars,
        bare_workerd_config: stack.runtimes["hello-workerd"].config,
      },
      settings: {
        quick: settings.quick,
        connections: settings.connections,
        duration_s: settings.durationS,
        warmup_s: settings.warmupS,
        probe_requests: settings.probeRequests,
        mixed_users: settings.mixedUsers,
        mixed_duration_s: settings.mixedDurationS,
        mixed_think_time: settings.withWait ? "none, then 1–3 s" : "none",
        storefront_users: settings.storefrontUsers,
        storefront_duration_s: settings.storefrontDurationS,
        request_log: settings.requestLog,
        accept_encoding: "gzip",
        round_trips: settings.roundTrips ? roundTripsText(settings.roundTrips) : "none (loopback)",
      },
      hello: {
        miniflare: referenceOf(byKey("hello-miniflare"), byKey("hello-miniflare-end")),
        workerd: referenceOf(byKey("hello-workerd"), byKey("hello-workerd-end")),
      },
      round_trips: settings.roundTrips,
      phases,
      mix_probe: mixProbe,
      mixed,
      storefront,
      cost: cost && {
        ...cost,
        basis:
          "CPU figure: the workerd process's CPU ms per request in that run, an upper bound of what Workers bills (locally the same process also runs the simulated KV / Cache API / Queues and parses HTTP, which Cloudflare does not bill); " +
          "the monthly included allowance (10 M requests, 30 M CPU-ms) is left out.",
      },
      targets: [],
    };
    report.targets = evaluateTargets(report);

    const md = benchMarkdown(report);
    writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(`${base}.md`, md);
    writeFileSync(`${base}.svg`, benchChart(report));
    console.log(`\n${md}`);
    const missed = report.targets.filter((t) => t.verdict === "MISS").length;
    if (settings.strict && missed > 0) {
      log(`--strict: ${missed} target(s) missed`);
      process.exitCode = 3;
    }
    log(
      `wrote ${base}.json, ${base}.md, ${base}.svg, the Locust reports in ${base}-locust-*/, the storefront's in ${base}-storefront/, the stack's log ${base}.log and the Worker's ${workerLogFile}`,
    );
  } finally {
    if (!interrupted) {
      log("stopping everything the bench started…");
      await stack?.stop();
      log("stopped");
    }
  }
}

function benchChart(report: BenchReport): string {
  const c = report.hello.miniflare.used_rps;
  const rows = report.phases
    .filter((p) => !p.skipped && p.requests > 0)
    .map((p) => ({
      label: p.label.replace(/ (GET|POST) .*$/, ""),
      detail: /(GET|POST) .*$/.exec(p.label)?.[0],
      note: `${p.rps.toLocaleString("en-US")} req/s${c ? ` · ${Math.round((p.rps / c) * 100)} % of hello` : ""} · ${p.errors} errors`,
      p50: p.p50_ms,
      p95: p.p95_ms,
      p99: p.p99_ms,
    }));
  for (const m of report.mixed) {
    const o = m.result.overall;
    rows.push({
      label: "Locust user (mixed)",
      detail: m.label.replace(/^Locust user, /, ""),
      note: `${o.rps} req/s · ${o.errors} errors`,
      p50: o.p50_ms,
      p95: o.p95_ms,
      p99: o.p99_ms,
    });
  }
  const sf = report.storefront;
  if (sf && sf.skipped === null) {
    const o = sf.result.overall;
    rows.push({
      label: "storefront user",
      detail: sf.label.replace(/^storefront user, /, ""),
      note: `${o.rps} req/s · ${sf.result.flows.completed_per_s} purchases paid/s · ${o.errors} errors`,
      p50: o.p50_ms,
      p95: o.p95_ms,
      p99: o.p99_ms,
    });
  }
  return latencyChartSvg({
    title: `Tenpo benchmark ${report.started_at}${report.settings.quick ? " (quick smoke run)" : ""}`,
    subtitle: `npm start's path (Miniflare, direct socket) · ${report.settings.connections} connections · ${report.machine.cores} cores · hello world ${c ?? "n/a"} req/s`,
    rows,
  });
}

main().catch((err: unknown) => {
  if (interrupted) return;
  console.error(`[bench] failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
