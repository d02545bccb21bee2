/**
 * One benchmark phase: a request shape driven by autocannon at a fixed number of connections against
 * one of the stack's runtimes, with the database round trips (SQL-over-HTTP /__stats), cache round
 * trips (Upstash REST /__stats) and CPU time per process role (/proc) read before and after, and a
 * short sequential probe that counts round trips per request exactly (no requests in flight at either end).
 */
import { setTimeout as sleep } from "node:timers/promises";
import autocannon from "autocannon";
import { percentile, round } from "../../load/recorder";
import { serverTimingDbCount, serverTimingRedisCount } from "../../load/server-timing";
import { upperMedian, type LatencySample } from "../../load/latency/model";
import { cpuDelta, otherLoadMeter, type ProcRole } from "./proc";
import { NO_ROUND_TRIPS, type RoundTrips } from "./round-trips";
import type { BenchStack, RuntimeKey } from "./stack";

/** What one phase sends, to which runtime. */
export interface PhaseSpec {
  key: string;
  label: string;
  /** The runtime loaded: the app, or a hello world (no database or cache counters then). */
  target: RuntimeKey;
  method: "GET" | "POST";
  /** A new path (and body) for every request; `method` and `kind` when they vary (a mix of requests). */
  next: () => { path: string; body?: unknown; token?: string; method?: "GET" | "POST"; kind?: string };
  /** A catalog read whose X-Cache is counted and whose hits are probed. */
  cached?: boolean;
  /** Needs a bearer token; the phase is n/a when none could be had. */
  auth?: boolean;
}

export interface ProbeResult {
  requests: number;
  /**
   * External count (SQL-over-HTTP /__stats) while each request was in flight, one request at a time,
   * each after the database had been quiet for a moment: the request path's round trips. Median and
   * mean per request.
   */
  db_round_trips: number;
  db_round_trips_per_request: number;
  db_round_trips_median: number;
  /** Requests whose own count differed from the median (background work overlapping, or real variance). */
  db_round_trips_outliers: number;
  /**
   * Everything the probe caused, counted until the database was quiet again: includes background work
   * the requests set off (e-mail outbox, cache refreshes).
   */
  db_round_trips_with_background_per_request: number;
  /** The Worker's own count, from `Server-Timing: db;desc="N queries"` when it sends one. */
  server_timing_db_per_request: number | null;
  /** Median of the Worker's own per-response counts (null without Server-Timing on every response). */
  server_timing_db_median: number | null;
  /** How many responses said each count, e.g. {"1": 30}. */
  server_timing_db_counts: Record<string, number>;
  /** False when the database never went quiet after the probe: the background count is then a lower bound. */
  background_quiet: boolean;
  /** Server-Timing's database count summed over the responses that said X-Cache: HIT (null without Server-Timing). */
  server_timing_db_on_hits: number | null;
  x_cache: Record<string, number>;
  statuses: Record<string, number>;
  /** Redis round trips per request (the Worker's Server-Timing count, else both Upstash servers' while it was in flight): median. */
  redis_round_trips_median: number;
  /** What each request took as the load generator saw it (through the delaying proxy under --rtt), and its round trips. */
  latency: { p50_ms: number; p95_ms: number; samples: LatencySample[] };
}

/** Everything one phase measured. */
export interface PhaseResult {
  key: string;
  label: string;
  target: RuntimeKey;
  /** Why nothing was measured ("n/a: endpoint answered 404 …"), or null. */
  skipped: string | null;
  connections: number;
  duration_s: number;
  requests: number;
  rps: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  mean_ms: number;
  errors: number;
  statuses: Record<string, number>;
  x_cache: Record<string, number> | null;
  db_round_trips_per_request: number | null;
  cache_round_trips_per_request: number | null;
  /**
   * CPU ms per request by process role: worker = the workerd serving the phase's Worker, host = the Node
   * process hosting that runtime, services = the bench's Node servers, datastores = all postgres and
   * redis-server processes (shared daemons).
   */
  cpu_ms_per_request: Record<ProcRole, number> | null;
  /** Cores busy with processes other than the bench's during the measurement (other people's work). */
  other_load_cores: number | null;
  /** The sequential probe, with no round trip charged (the Worker's own time and its round trips per request). */
  probe: ProbeResult | null;
  /** The same probe under --rtt's round trips, its requests interleaved with `probe`'s (null without --rtt). */
  probe_rtt: ProbeResult | null;
  /** How the wait for a quiet database before the measurement went (null when skipped). */
  settle: Settle | null;
}

/** The wait for the database to go quiet before a measurement. */
export interface Settle {
  quiet: boolean;
  waited_s: number;
}

/** How long and how hard each phase runs. */
export interface PhaseSettings {
  connections: number;
  durationS: number;
  warmupS: number;
  probeRequests: number;
  /** --rtt: the round trips charged during the phase (the probe's other half goes without); null without. */
  roundTrips: RoundTrips | null;
}

const ACCEPT = { accept: "application/json", "accept-encoding": "gzip" };

/** Preflight, warm-up, probe (when `probeRequests` > 0), then the measurement. */
export async function runPhase(
  stack: BenchStack,
  spec: PhaseSpec,
  settings: PhaseSettings,
  log: (line: string) => void,
): Promise<PhaseResult> {
  const url = stack.urls[spec.target];
  const app = spec.target === "app";
  const empty = (skipped: string): PhaseResult => ({
    key: spec.key,
    label: spec.label,
    target: spec.target,
    skipped,
    connections: settings.connections,
    duration_s: 0,
    requests: 0,
    rps: 0,
    p50_ms: 0,
    p95_ms: 0,
    p99_ms: 0,
    mean_ms: 0,
    errors: 0,
    statuses: {},
    x_cache: null,
    db_round_trips_per_request: null,
    cache_round_trips_per_request: null,
    cpu_ms_per_request: null,
    other_load_cores: null,
    probe: null,
    probe_rtt: null,
    settle: null,
  });

  // Preflight: is the endpoint there at all?
  const first = spec.next();
  if (spec.auth && !first.token) return empty("n/a: no token (login failed)");
  const pre = await send(url, spec.method, first);
  if (pre.status === 404 || pre.status === 405) {
    return empty(`n/a: endpoint answered ${pre.status} (${pre.text.slice(0, 90).replace(/\s+/g, " ")})`);
  }

  log(`${spec.label}: warm-up ${settings.warmupS} s`);
  await load(url, spec, settings.connections, settings.warmupS);

  const { probe, probe_rtt: probeRtt } =
    app && settings.probeRequests > 0
      ? await runProbes(stack, spec, settings.probeRequests, settings.roundTrips, log)
      : { probe: null, probe_rtt: null };

  const settled = await settle(stack, spec.label, log);
  log(`${spec.label}: measuring ${settings.durationS} s at ${settings.connections} connections`);
  const db0 = await stack.dbRoundTrips();
  const cache0 = await stack.cacheRoundTrips();
  const cpu0 = stack.processes(spec.target);
  const otherLoad = otherLoadMeter();
  const run = await load(url, spec, settings.connections, settings.durationS);
  const otherCores = otherLoad();
  const cpu1 = stack.processes(spec.target);
  const db1 = await stack.dbRoundTrips();
  const cache1 = await stack.cacheRoundTrips();

  const n = run.latencies.length;
  const sorted = Float64Array.from(run.latencies).sort();
  const cpu = cpuDelta(cpu0, cpu1);
  const perRequest = (v: number): number => (n > 0 ? round(v / n, 3) : 0);
  return {
    key: spec.key,
    label: spec.label,
    target: spec.target,
    skipped: null,
    connections: settings.connections,
    duration_s: run.durationS,
    requests: n,
    rps: round(n / run.durationS, 1),
    p50_ms: round(percentile(sorted, 50)),
    p95_ms: round(percentile(sorted, 95)),
    p99_ms: round(percentile(sorted, 99)),
    mean_ms: round(n ? run.latencies.reduce((a, b) => a + b, 0) / n : 0),
    errors: run.errors,
    statuses: run.statuses,
    x_cache: spec.cached ? run.xCache : null,
    // A hello world touches neither: its counters would only show other phases' leftovers.
    db_round_trips_per_request: app && n > 0 ? round((db1 - db0) / n, 3) : null,
    cache_round_trips_per_request: !app || cache0 === null || cache1 === null || n === 0 ? null : round((cache1 - cache0) / n, 3),
    cpu_ms_per_request:
      n > 0
        ? {
            worker: perRequest(cpu.worker),
            host: perRequest(cpu.host),
            services: perRequest(cpu.services),
            datastores: perRequest(cpu.datastores),
          }
        : null,
    other_load_cores: round(otherCores, 2),
    probe,
    probe_rtt: probeRtt,
    settle: settled,
  };
}

interface LoadRun {
  durationS: number;
  latencies: number[];
  statuses: Record<string, number>;
  errors: number;
  xCache: Record<string, number>;
}

async function load(apiUrl: string, spec: PhaseSpec, connections: number, durationS: number): Promise<LoadRun> {
  const latencies: number[] = [];
  const xCache: Record<string, number> = {};
  const options: autocannon.Options = {
    url: apiUrl,
    connections,
    pipelining: 1,
    duration: durationS,
    timeout: 10,
    requests: [
      {
        method: spec.method,
        setupRequest: (req) => {
          const next = spec.next();
          const headers: Record<string, string> = { ...ACCEPT };
          if (next.token) headers.authorization = `Bearer ${next.token}`;
          if (next.body !== undefined) headers["content-type"] = "application/json";
          const body = next.body === undefined ? undefined : JSON.stringify(next.body);
          return { ...req, method: spec.method, path: next.path, headers, body };
        },
        onResponse: (_status, _body, _context, headers) => {
          if (!spec.cached) return;
          const value = headerValue(headers, "x-cache") ?? "none";
          xCache[value] = (xCache[value] ?? 0) + 1;
        },
      },
    ],
  };
  // The callback form returns the instance, whose "response" events carry each response's latency.
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(options, (err, res) => (err ? reject(err) : resolve(res)));
    instance.on("response", (_client, _status, _bytes, responseTime) => {
      latencies.push(responseTime);
    });
  });
  const statuses: Record<string, number> = {};
  for (const [status, { count }] of Object.entries(result.statusCodeStats ?? {})) statuses[status] = count ?? 0;
  if (result.errors > 0) statuses.transport_errors = result.errors;
  const httpErrors = Object.entries(statuses)
    .filter(([status]) => Number(status) >= 400)
    .reduce((a, [, c]) => a + c, 0);
  return { durationS: result.duration, latencies, statuses, errors: httpErrors + result.errors, xCache };
}

/**
 * The sequential probe: `count` requests one at a time, each after the database was quiet. Under --rtt,
 * `count` requests with no round trip charged and `count` with the round trips, interleaved, so that
 * both halves see the same cache state and the same machine: the model's input and the measurement it
 * is checked against. The round trips stay on afterwards.
 *
 * The order within each pair is drawn at random and every wait gets up to PROBE_JITTER_MS more: work
 * that falls due once a second per isolate (the catalog version read, src/cache/versions.ts) would
 * otherwise lock onto a fixed order whose cycle is near a second and land on the same half every time.
 */
export async function runProbes(
  stack: BenchStack,
  spec: ProbedSpec,
  count: number,
  roundTrips: RoundTrips | null,
  log: (line: string) => void,
): Promise<{ probe: ProbeResult; probe_rtt: ProbeResult | null }> {
  const settings = roundTrips ? [NO_ROUND_TRIPS, roundTrips] : [null];
  const tallies = settings.map(() => new ProbeTally(spec.cached ?? false));
  await settle(stack, `${spec.label} probe`, () => {});
  if (roundTrips) log(`${spec.label}: probing, each request once with no round trip charged and once with them`);
  const start = await stack.dbRoundTrips();
  for (let i = 0; i < count; i++) {
    const order = settings.length === 2 && Math.random() < 0.5 ? [1, 0] : settings.map((_, k) => k);
    for (const [k, which] of order.entries()) {
      const setting = settings[which];
      if (setting) await stack.setRoundTrips(setting);
      // Work a request sets off after its response (waitUntil, queue consumers) must not land in the
      // next request's count: wait for a short quiet spell between requests.
      if (i > 0 || k > 0) {
        await waitForQuiet(stack, 200, 2500);
        if (roundTrips) await sleep(Math.random() * PROBE_JITTER_MS);
      }
      await probeOnce(stack, spec, tallies[which]!);
    }
  }
  if (roundTrips) await stack.setRoundTrips(roundTrips);
  const backgroundQuiet = await waitForQuiet(stack, SETTLE_QUIET_MS, SETTLE_MAX_MS);
  const withBackground = ((await stack.dbRoundTrips()) - start) / (count * settings.length);
  const [probe, probeRtt] = tallies.map((t) => t.result(withBackground, backgroundQuiet));
  return { probe: probe!, probe_rtt: probeRtt ?? null };
}

/** The most a --rtt probe waits on top of the quiet spell before a request (a random share of it). */
const PROBE_JITTER_MS = 400;

/** What a probe needs of a phase: where, what, and whether to count X-Cache. */
export type ProbedSpec = Pick<PhaseSpec, "label" | "target" | "method" | "next" | "cached">;

/** One request of a probe: sent, timed, its round trips counted by the Worker and by the servers. */
async function probeOnce(stack: BenchStack, spec: ProbedSpec, tally: ProbeTally): Promise<void> {
  const before = await stack.dbRoundTrips();
  const redisBefore = await stack.redisRoundTrips();
  const next = spec.next();
  const started = performance.now();
  const res = await send(stack.urls[spec.target], next.method ?? spec.method, next);
  const ms = performance.now() - started;
  const external = (await stack.dbRoundTrips()) - before;
  const externalRedis = (await stack.redisRoundTrips()) - redisBefore;
  const timing = res.headers.get("server-timing");
  tally.add({
    ms,
    status: res.status,
    cache: res.headers.get("x-cache"),
    kind: next.kind,
    external,
    externalRedis,
    dbCount: serverTimingDbCount(timing),
    redisCount: serverTimingRedisCount(timing),
  });
}

/** One probe's requests, summed up. */
class ProbeTally {
  private readonly xCache: Record<string, number> = {};
  private readonly statuses: Record<string, number> = {};
  private readonly external: number[] = [];
  private readonly timingCounts: number[] = [];
  private readonly redis: number[] = [];
  private readonly samples: LatencySample[] = [];
  private onHits = 0;

  constructor(private readonly cached: boolean) {}

  add(r: {
    ms: number;
    status: number;
    cache: string | null;
    kind: string | undefined;
    external: number;
    externalRedis: number;
    dbCount: number | null;
    redisCount: number | null;
  }): void {
    this.external.push(r.external);
    this.statuses[r.status] = (this.statuses[r.status] ?? 0) + 1;
    if (this.cached) this.xCache[r.cache ?? "none"] = (this.xCache[r.cache ?? "none"] ?? 0) + 1;
    if (r.dbCount !== null) {
      this.timingCounts.push(r.dbCount);
      if (r.cache === "HIT") this.onHits += r.dbCount;
    }
    // The Worker's own counts are those the response waited for; the servers' may include work it set
    // off after answering (a cache fill, an e-mail), so they are the fallback for an older Worker.
    const redis = r.redisCount ?? r.externalRedis;
    this.redis.push(redis);
    this.samples.push({
      ms: round(r.ms, 2),
      db: r.dbCount ?? r.external,
      redis,
      status: r.status,
      ...(r.cache ? { cache: r.cache } : {}),
      ...(r.kind ? { kind: r.kind } : {}),
    });
  }

  result(withBackgroundPerRequest: number, backgroundQuiet: boolean): ProbeResult {
    const count = this.samples.length;
    const inRequests = this.external.reduce((a, b) => a + b, 0);
    const median = upperMedian(this.external) ?? 0;
    const timed = this.timingCounts.length === count;
    const histogram: Record<string, number> = {};
    for (const c of this.timingCounts) histogram[c] = (histogram[c] ?? 0) + 1;
    return {
      requests: count,
      db_round_trips: inRequests,
      db_round_trips_per_request: round(inRequests / count, 3),
      db_round_trips_median: median,
      db_round_trips_outliers: this.external.filter((n) => n !== median).length,
      db_round_trips_with_background_per_request: round(withBackgroundPerRequest, 3),
      server_timing_db_per_request: timed ? round(this.timingCounts.reduce((a, b) => a + b, 0) / count, 3) : null,
      server_timing_db_median: timed ? upperMedian(this.timingCounts) : null,
      server_timing_db_counts: histogram,
      background_quiet: backgroundQuiet,
      server_timing_db_on_hits: timed ? this.onHits : null,
      x_cache: this.xCache,
      statuses: this.statuses,
      redis_round_trips_median: upperMedian(this.redis) ?? 0,
      latency: { ...latencyOf(this.samples.map((s) => s.ms)), samples: this.samples },
    };
  }
}

/** p50 and p95 of some durations, in ms. */
function latencyOf(ms: number[]): { p50_ms: number; p95_ms: number } {
  const sorted = Float64Array.from(ms).sort();
  return { p50_ms: round(percentile(sorted, 50)), p95_ms: round(percentile(sorted, 95)) };
}

/**
 * Quiet for longer than the order e-mail queue's max_batch_timeout (2 s, wrangler.toml), so that a
 * consumer batch still gathering messages has fired and been counted.
 */
export const SETTLE_QUIET_MS = 3000;
/** A backlog of order e-mails (thousands after an order-create phase) can take a while to drain. */
const SETTLE_MAX_MS = 120_000;

/**
 * Waits until work left over from earlier load (in-flight requests, the order e-mail backlog, cache
 * refreshes) has drained, so it is not counted against the next measurement; says how long it took.
 */
export async function settle(stack: BenchStack, what: string, log: (line: string) => void): Promise<Settle> {
  const since = performance.now();
  const quiet = await waitForQuiet(stack, SETTLE_QUIET_MS, SETTLE_MAX_MS);
  const waited = (performance.now() - since) / 1000;
  if (!quiet) log(`${what}: the database was still busy after ${SETTLE_MAX_MS / 1000} s; measuring anyway`);
  else if (waited > 10) log(`${what}: waited ${waited.toFixed(0)} s for left-over background work to drain`);
  return { quiet, waited_s: round(waited, 1) };
}

/**
 * Waits until the database has seen no round trip for `quietMs` (at most `maxMs`): work left over from
 * the previous load (requests still in flight when autocannon stopped, queued e-mails, cache refreshes)
 * must not be counted against the next measurement. Returns false when it never went quiet.
 */
export async function waitForQuiet(stack: BenchStack, quietMs = 1000, maxMs = 5000): Promise<boolean> {
  const deadline = Date.now() + maxMs;
  const poll = Math.min(200, quietMs / 4);
  let last = await stack.dbRoundTrips();
  let since = Date.now();
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, poll));
    const now = await stack.dbRoundTrips();
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) {
      return true;
    }
  }
  return false;
}

/** One request, body read in full. */
export async function send(
  apiUrl: string,
  method: string,
  req: { path: string; body?: unknown; token?: string },
): Promise<{ status: number; text: string; headers: Headers }> {
  const headers: Record<string, string> = { ...ACCEPT };
  if (req.token) headers.authorization = `Bearer ${req.token}`;
  if (req.body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${apiUrl}${req.path}`, {
    method,
    headers,
    body: req.body === undefined ? undefined : JSON.stringify(req.body),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

function headerValue(headers: Record<string, unknown> | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() === name) return Array.isArray(v) ? String(v[0]) : String(v);
  }
  return undefined;
}
