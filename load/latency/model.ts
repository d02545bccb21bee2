/**
 * The latency model (`npm run latency-model`, load/README.md "What the edge buys a shopper far away"): what a request costs a shopper
 * once its round trips are paid at real distances.
 *
 * Its input is what the bench's sequential probe measured per request with no round trip charged
 * (scripts/bench/phases.ts `runProbe`): the time the request took end to end on loopback (the Worker's
 * own time, its local SQL and Redis calls included) and the round trips it made: database requests
 * (the Worker's own Server-Timing count) and Upstash REST requests (both servers' counters while the
 * request was in flight). A request then costs, at a given setting of the hops,
 *
 *   own time + client RTT + forward RTT + db round trips × db RTT + redis round trips × redis RTT
 *
 * where "forward" is the hop a request makes once, before the Worker runs, when Smart Placement runs
 * it elsewhere than the location the shopper reached. The model charges every round trip in full and
 * one after another: nothing here runs two of them at once, which the bench's --rtt runs check.
 * Percentiles are taken over the charged samples, so a request that sometimes goes to the database
 * (a cache miss) and sometimes not moves the p95 and not the p50, as it does in reality.
 */
import { percentile, round } from "../recorder";

/** One probed request: what it took on loopback and what it crossed. */
export interface LatencySample {
  /** End to end as the load generator saw it, ms. */
  ms: number;
  /** Database round trips (SQL-over-HTTP requests) the response waited for. */
  db: number;
  /** Upstash REST requests while it was in flight. */
  redis: number;
  status: number;
  /** X-Cache, when the response had one. */
  cache?: string;
  /** Which request of a mix it was (list, detail, order). */
  kind?: string;
}

/** Milliseconds per round trip on each hop; `forward`: once per request, before the Worker runs. */
export interface Hops {
  client: number;
  db: number;
  redis: number;
  forward?: number;
}

export interface Percentiles {
  p50_ms: number;
  p95_ms: number;
}

/** What one request would take with these hops. */
export function chargedMs(sample: LatencySample, hops: Hops): number {
  return sample.ms + hops.client + (hops.forward ?? 0) + sample.db * hops.db + sample.redis * hops.redis;
}

/** p50 and p95 of the samples once each is charged its round trips. */
export function predict(samples: readonly LatencySample[], hops: Hops): Percentiles {
  return percentilesOf(samples.map((s) => chargedMs(s, hops)));
}

/** The upper median (the value at index ⌊n/2⌋ of the sorted values), or null for none. */
export function upperMedian(values: readonly number[]): number | null {
  return values.length ? Float64Array.from(values).sort()[Math.floor(values.length / 2)]! : null;
}

/** p50 and p95 (nearest rank), ms, rounded to 0.1. */
export function percentilesOf(values: readonly number[]): Percentiles {
  const sorted = Float64Array.from(values).sort();
  return { p50_ms: round(percentile(sorted, 50), 1), p95_ms: round(percentile(sorted, 95), 1) };
}

/** A part of a traffic mix: its requests' latencies and its share of the requests. */
export interface MixPart {
  values: readonly number[];
  weight: number;
}

/**
 * p50 and p95 of a traffic mix: each part's requests count for its weight spread over its samples,
 * e.g. the chapter's Locust user, 3 list reads : 2 detail reads : 1 order. Parts without samples are
 * left out (their weight with them).
 */
export function mixPercentiles(parts: readonly MixPart[]): Percentiles {
  const used = parts.filter((p) => p.values.length > 0);
  const total = used.reduce((a, p) => a + p.weight, 0);
  const points = used.flatMap((p) => p.values.map((v) => ({ v, w: p.weight / total / p.values.length }))).sort((a, b) => a.v - b.v);
  const at = (q: number): number => {
    let cumulative = 0;
    for (const point of points) {
      cumulative += point.w;
      if (cumulative >= q - 1e-9) return point.v;
    }
    return points.at(-1)?.v ?? 0;
  };
  return { p50_ms: round(at(0.5), 1), p95_ms: round(at(0.95), 1) };
}

/** How far a predicted figure may be from the measured one and still agree (the bar). */
export const AGREEMENT = 0.15;

/** One endpoint's prediction against a measurement at the same setting. */
export interface Agreement {
  endpoint: string;
  /** The same requests with no round trip charged: the model's input. */
  unloaded: Percentiles;
  predicted: Percentiles;
  measured: Percentiles;
  /** (predicted − measured) / measured of the p50. */
  p50_error: number;
  p95_error: number;
  /** |p50_error| ≤ AGREEMENT. */
  agrees: boolean;
  /** The least the round trips alone cost at the median request's counts: client + db × n + redis × m. */
  floor_ms: number;
  db_round_trips_median: number;
  redis_round_trips_median: number;
}

/** Predicts `measured` from `unloaded` (the same requests with no round trip charged) at `hops`. */
export function agreement(endpoint: string, unloaded: readonly LatencySample[], measured: readonly LatencySample[], hops: Hops): Agreement {
  return verdict(
    endpoint,
    {
      unloaded: percentilesOf(unloaded.map((s) => s.ms)),
      predicted: predict(unloaded, hops),
      measured: percentilesOf(measured.map((s) => s.ms)),
    },
    measured,
    hops,
  );
}

/** The row for three sets of percentiles: the errors, the verdict and the floor at the measured requests' median counts. */
function verdict(
  endpoint: string,
  p: { unloaded: Percentiles; predicted: Percentiles; measured: Percentiles },
  measuredSamples: readonly LatencySample[],
  hops: Hops,
): Agreement {
  const db = upperMedian(measuredSamples.map((s) => s.db)) ?? 0;
  const redis = upperMedian(measuredSamples.map((s) => s.redis)) ?? 0;
  const error = (which: keyof Percentiles): number =>
    p.measured[which] > 0 ? round((p.predicted[which] - p.measured[which]) / p.measured[which], 3) : 0;
  return {
    endpoint,
    ...p,
    p50_error: error("p50_ms"),
    p95_error: error("p95_ms"),
    agrees: Math.abs(error("p50_ms")) <= AGREEMENT,
    floor_ms: hops.client + (hops.forward ?? 0) + db * hops.db + redis * hops.redis,
    db_round_trips_median: db,
    redis_round_trips_median: redis,
  };
}

/** A probe as a bench run's JSON holds it (scripts/bench/phases.ts ProbeResult): what the model reads of it. */
export interface ProbeLatency {
  latency: { p50_ms: number; p95_ms: number; samples: LatencySample[] };
}

/** What the model reads of a bench run (bench-<timestamp>.json): its probes and the round trips it charged. */
export interface ProbedRun<P extends ProbeLatency = ProbeLatency> {
  round_trips?: Hops | null;
  phases: Array<{ key: string; label: string; probe: P | null; probe_rtt?: P | null }>;
  mix_probe?: { label: string; probe: P; probe_rtt: P | null } | null;
}

/** One endpoint's probes: with no round trip charged, and under the run's round trips (null without --rtt). */
export interface ProbePair<P extends ProbeLatency = ProbeLatency> {
  key: string;
  label: string;
  probe: P;
  probe_rtt: P | null;
}

/** Every probed endpoint of a run, the closing hello worlds left out, the chapter's mix ("mix") last. */
export function probePairs<P extends ProbeLatency>(run: ProbedRun<P>): ProbePair<P>[] {
  const pairs: ProbePair<P>[] = [];
  for (const p of run.phases) {
    if (p.probe && !p.key.endsWith("-end")) pairs.push({ key: p.key, label: p.label, probe: p.probe, probe_rtt: p.probe_rtt ?? null });
  }
  if (run.mix_probe) pairs.push({ key: "mix", ...run.mix_probe });
  return pairs;
}

/** Where a catalog read was answered from: its location's cache (HIT, STALE) or the database (MISS, BYPASS). */
export function servedFrom(sample: LatencySample): "cache" | "database" | null {
  if (sample.cache === "HIT" || sample.cache === "STALE") return "cache";
  if (sample.cache === "MISS" || sample.cache === "BYPASS") return "database";
  return null;
}

/** Fewer samples than this in a group and the group is not checked: its percentiles would be noise. */
export const MIN_CHECKED_SAMPLES = 5;

/**
 * The model against one endpoint's --rtt probe pair, per number of round trips: the requests that made
 * the same database and Redis round trips, predicted from those with none charged against those
 * measured with them. That is the model's claim (each round trip costs its RTT, one after another).
 * How many requests make which trips is the workload's: a cached read pays the isolate's catalog
 * version read once a second (src/cache/versions.ts) and goes to the database when nobody read the
 * product in the last 5 s, and one request at a time every half second makes both common, so an
 * endpoint's p50 over all its requests lands on one count or another by chance.
 */
export function agreementsOf(pair: ProbePair, hops: Hops): Agreement[] {
  if (pair.key === "mix") return []; // one shopper's mix: see mixAgreement
  const zero = pair.probe.latency.samples;
  const measured = pair.probe_rtt?.latency.samples ?? [];
  const trips = (s: LatencySample): string => `${s.db}/${s.redis}`;
  const groups = [...new Set(zero.map(trips))].sort();
  const rows: Agreement[] = [];
  for (const group of groups) {
    const a = zero.filter((s) => trips(s) === group);
    const b = measured.filter((s) => trips(s) === group);
    if (a.length < MIN_CHECKED_SAMPLES || b.length < MIN_CHECKED_SAMPLES) continue;
    const [db, redis] = group.split("/").map(Number);
    const label =
      groups.length === 1 ? pair.label : `${pair.label}: ${db} DB + ${redis} Redis round trips (${b.length} of ${measured.length})`;
    rows.push(agreement(label, a, b, hops));
  }
  return rows;
}

/** A request a busy location answers so: a read from its cache without waiting for the version read, or any request that is no catalog read. */
export function atBusyLocation(s: LatencySample): boolean {
  const from = servedFrom(s);
  return from === null || (from === "cache" && s.redis === 0);
}

/**
 * The chapter's Locust user at a busy location (fastapi-seed/load/locustfile.py, load/scenario.ts):
 * 3 list reads : 2 detail reads : 1 order, every read answered from the location's cache (atBusyLocation).
 */
export const CHAPTER_MIX: ReadonlyArray<{ probe: string; weight: number }> = [
  { probe: "list", weight: 3 },
  { probe: "detail", weight: 2 },
  { probe: "order-create", weight: 1 },
];

/**
 * The chapter's mix, predicted from the endpoints' probes with no round trip charged and measured from
 * the same probes with them, each part weighted as the mix weighs it. Null when a part was not probed.
 */
export function mixAgreement(pairs: readonly ProbePair[], hops: Hops): Agreement | null {
  const parts = CHAPTER_MIX.map((m) => {
    const pair = pairs.find((p) => p.key === m.probe);
    return {
      weight: m.weight,
      zero: (pair?.probe.latency.samples ?? []).filter(atBusyLocation),
      measured: (pair?.probe_rtt?.latency.samples ?? []).filter(atBusyLocation),
    };
  });
  if (parts.some((p) => p.zero.length === 0 || p.measured.length === 0)) return null;
  const mix = (pick: (p: (typeof parts)[number]) => number[]): Percentiles =>
    mixPercentiles(parts.map((p) => ({ values: pick(p), weight: p.weight })));
  return verdict(
    "the chapter's mix at a busy location (3 list : 2 detail : 1 order, reads from the cache), from the endpoints' probes",
    {
      unloaded: mix((p) => p.zero.map((s) => s.ms)),
      predicted: mix((p) => p.zero.map((s) => chargedMs(s, hops))),
      measured: mix((p) => p.measured.map((s) => s.ms)),
    },
    parts.flatMap((p) => p.measured),
    hops,
  );
}

/** Every check of a --rtt run: each endpoint's per-round-trip rows, then the chapter's mix (empty without --rtt). */
export function runAgreements(run: ProbedRun): Agreement[] {
  const rt = run.round_trips;
  if (!rt) return [];
  const pairs = probePairs(run).filter((p) => p.probe_rtt);
  const mix = mixAgreement(pairs, rt);
  return [...pairs.flatMap((p) => agreementsOf(p, rt)), ...(mix ? [mix] : [])];
}
