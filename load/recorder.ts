/**
 * Collects every response of a run, per endpoint: latency, status (with the API's error code when the
 * caller gives it), the X-Cache header and the database round trips the Worker counted (Server-Timing).
 * Exact percentiles from the kept samples (a run holds at most a few hundred thousand numbers).
 */

/** What a catalog read's X-Cache said; "none" when the response had no X-Cache header. */
export type CacheOutcome = "HIT" | "MISS" | "STALE" | "BYPASS" | "none" | "other";

export interface EndpointSummary {
  endpoint: string;
  requests: number;
  /** Completed requests per second over the run's window. */
  rps: number;
  mean_ms: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  max_ms: number;
  /**
   * Responses with status >= 400 and transport failures (keyed by error code, e.g. "ECONNRESET"), except
   * the outcomes recorded as expected (`expected`).
   */
  errors: number;
  /** Every outcome by status ("200", "404", "409 insufficient_stock", "ECONNREFUSED", …). */
  statuses: Record<string, number>;
  /**
   * Outcomes of `statuses` at or above 400 that the scenario expects and are not errors, e.g.
   * {"409 insufficient_stock": 3} when demo stock runs out under load; {} when there were none.
   */
  expected: Record<string, number>;
  /** The Worker's own database round trips per response (Server-Timing), or null when no response said. */
  db_round_trips: DbRoundTrips | null;
  /** X-Cache values seen, or null when the endpoint is not a cached read. */
  x_cache: Partial<Record<CacheOutcome, number>> | null;
  /**
   * Share of responses served from a cache (HIT or STALE) among those that carried X-Cache;
   * null when none carried it (the feature is not there) or the endpoint is not a cached read.
   */
  hit_ratio: number | null;
}

/** Database round trips per response, as the Worker counted them (`Server-Timing: db;desc="N queries"`). */
export interface DbRoundTrips {
  /** Responses that carried a count. */
  counted: number;
  /** HTTP responses that did not (transport failures are neither). */
  without: number;
  total: number;
  mean: number;
  min: number;
  max: number;
  /** How many responses said each count, e.g. {"1": 998, "2": 2}. */
  counts: Record<string, number>;
}

/** What a caller knows about one response beyond its status and latency. */
export interface RecordDetails {
  /** The API's error code (`error.code`): recorded as "<status> <code>", e.g. "409 insufficient_stock". */
  code?: string;
  /** An outcome the scenario expects (demo stock running out): kept apart and not counted as an error. */
  expected?: boolean;
  /** The Worker's database round trips for this response (Server-Timing), null when it sent none. */
  dbRoundTrips?: number | null;
}

export interface TimelinePoint {
  /** Seconds since the start of the run (bin start). */
  t: number;
  /** Completed requests in this second, all endpoints. */
  requests: number;
  errors: number;
  /** p95 latency in ms per endpoint for this second (absent when it had no responses). */
  p95_ms: Record<string, number>;
}

interface Series {
  ms: number[];
  at: number[];
  bad: boolean[];
  statuses: Map<string, number>;
  /** Status keys recorded as expected outcomes. */
  expected: Set<string>;
  cache: Map<CacheOutcome, number> | null;
  /** Server-Timing database counts of the responses that had one, and how many HTTP responses had none. */
  db: number[];
  dbMissing: number;
}

function newSeries(cached: boolean): Series {
  return { ms: [], at: [], bad: [], statuses: new Map(), expected: new Set(), cache: cached ? new Map() : null, db: [], dbMissing: 0 };
}

export class Recorder {
  private readonly series = new Map<string, Series>();
  readonly startedAt = performance.now();

  /**
   * `cachedEndpoints`: catalog reads whose X-Cache is tallied. `waits`: steps that are not one request
   * but a wait made of several (the storefront's paid_wait, whose polls are recorded as requests of
   * their own): summarized like the others, left out of the totals, `overall` and the timeline's counts.
   */
  constructor(
    private readonly cachedEndpoints: ReadonlySet<string> = new Set(),
    private readonly waits: ReadonlySet<string> = new Set(),
  ) {}

  /**
   * One outcome: an HTTP status (a number) or a transport failure's code ("ECONNRESET"), its latency, and
   * what else the caller read from the response.
   */
  record(endpoint: string, status: number | string, ms: number, xCache?: string | null, details: RecordDetails = {}): void {
    let s = this.series.get(endpoint);
    if (!s) {
      s = newSeries(this.cachedEndpoints.has(endpoint));
      this.series.set(endpoint, s);
    }
    s.ms.push(ms);
    s.at.push((performance.now() - this.startedAt) / 1000);
    const key = details.code ? `${status} ${details.code}` : String(status);
    if (details.expected) s.expected.add(key);
    s.bad.push(!details.expected && isError(key));
    s.statuses.set(key, (s.statuses.get(key) ?? 0) + 1);
    if (s.cache && typeof status === "number" && status < 400) {
      const outcome = cacheOutcome(xCache);
      s.cache.set(outcome, (s.cache.get(outcome) ?? 0) + 1);
    }
    if (typeof details.dbRoundTrips === "number") s.db.push(details.dbRoundTrips);
    else if (typeof status === "number") s.dbMissing += 1;
  }

  /** Requests recorded so far (waits not counted). */
  get total(): number {
    let n = 0;
    for (const [endpoint, s] of this.series) if (!this.waits.has(endpoint)) n += s.ms.length;
    return n;
  }

  endpoints(): string[] {
    return [...this.series.keys()];
  }

  summary(windowSeconds: number, order: readonly string[] = []): EndpointSummary[] {
    const names = [...order.filter((e) => this.series.has(e)), ...this.endpoints().filter((e) => !order.includes(e))];
    return names.map((endpoint) => summarize(endpoint, this.series.get(endpoint)!, windowSeconds));
  }

  /** Every request together, as one row ("all"); waits are not requests and are left out. */
  overall(windowSeconds: number): EndpointSummary {
    const all = newSeries(false);
    for (const [endpoint, s] of this.series) {
      if (this.waits.has(endpoint)) continue;
      for (const ms of s.ms) all.ms.push(ms);
      for (const [k, v] of s.statuses) all.statuses.set(k, (all.statuses.get(k) ?? 0) + v);
      for (const k of s.expected) all.expected.add(k);
      for (const n of s.db) all.db.push(n);
      all.dbMissing += s.dbMissing;
    }
    return summarize("all", all, windowSeconds);
  }

  /** Catalog reads together: HIT+STALE over all that carried X-Cache, or null if none did. */
  catalogHitRatio(): { ratio: number | null; counted: number; without_header: number } {
    let served = 0;
    let counted = 0;
    let without = 0;
    for (const s of this.series.values()) {
      if (!s.cache) continue;
      for (const [outcome, n] of s.cache) {
        if (outcome === "none") without += n;
        else counted += n;
        if (outcome === "HIT" || outcome === "STALE") served += n;
      }
    }
    return { ratio: counted > 0 ? served / counted : null, counted, without_header: without };
  }

  /** Second by second: requests and errors (waits not counted), and each endpoint's p95 (waits' too). */
  timeline(): TimelinePoint[] {
    const points = new Map<number, { requests: number; errors: number; ms: Map<string, number[]> }>();
    for (const [endpoint, s] of this.series) {
      const counted = !this.waits.has(endpoint);
      s.at.forEach((at, i) => {
        const t = Math.floor(at);
        let p = points.get(t);
        if (!p) points.set(t, (p = { requests: 0, errors: 0, ms: new Map() }));
        if (counted) p.requests += 1;
        if (counted && s.bad[i]) p.errors += 1;
        const list = p.ms.get(endpoint) ?? [];
        list.push(s.ms[i]!);
        p.ms.set(endpoint, list);
      });
    }
    const last = Math.max(-1, ...points.keys());
    const out: TimelinePoint[] = [];
    for (let t = 0; t <= last; t++) {
      const p = points.get(t);
      const p95: Record<string, number> = {};
      for (const [endpoint, list] of p?.ms ?? []) p95[endpoint] = round(percentile(sorted(list), 95));
      out.push({ t, requests: p?.requests ?? 0, errors: p?.errors ?? 0, p95_ms: p95 });
    }
    return out;
  }
}

function cacheOutcome(value: string | null | undefined): CacheOutcome {
  if (value === undefined || value === null || value === "") return "none";
  const v = value.trim().toUpperCase();
  return v === "HIT" || v === "MISS" || v === "STALE" || v === "BYPASS" ? v : "other";
}

function summarize(endpoint: string, s: Series, windowSeconds: number): EndpointSummary {
  const ms = sorted(s.ms);
  const statuses = Object.fromEntries([...s.statuses].sort(([a], [b]) => a.localeCompare(b)));
  const errors = [...s.statuses].reduce((n, [status, count]) => (isError(status) && !s.expected.has(status) ? n + count : n), 0);
  const expected = Object.fromEntries([...s.statuses].filter(([status]) => s.expected.has(status) && isError(status)));
  let hitRatio: number | null = null;
  let xCache: EndpointSummary["x_cache"] = null;
  if (s.cache) {
    xCache = Object.fromEntries(s.cache);
    const withHeader = [...s.cache].filter(([o]) => o !== "none").reduce((n, [, c]) => n + c, 0);
    const served = (s.cache.get("HIT") ?? 0) + (s.cache.get("STALE") ?? 0);
    hitRatio = withHeader > 0 ? served / withHeader : null;
  }
  return {
    endpoint,
    requests: ms.length,
    rps: windowSeconds > 0 ? round(ms.length / windowSeconds, 1) : 0,
    mean_ms: round(ms.length ? ms.reduce((a, b) => a + b, 0) / ms.length : 0),
    p50_ms: round(percentile(ms, 50)),
    p95_ms: round(percentile(ms, 95)),
    p99_ms: round(percentile(ms, 99)),
    max_ms: round(ms.length ? ms[ms.length - 1]! : 0),
    errors,
    statuses,
    expected,
    db_round_trips: dbRoundTrips(s),
    x_cache: xCache,
    hit_ratio: hitRatio === null ? null : round(hitRatio, 4),
  };
}

function dbRoundTrips(s: Series): DbRoundTrips | null {
  if (s.db.length === 0) return null;
  const counts: Record<string, number> = {};
  let total = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = 0;
  for (const n of s.db) {
    counts[n] = (counts[n] ?? 0) + 1;
    total += n;
    min = Math.min(min, n);
    max = Math.max(max, n);
  }
  return { counted: s.db.length, without: s.dbMissing, total, mean: round(total / s.db.length, 3), min, max, counts };
}

/**
 * A status key counts as an error when its status is >= 400 or it is not an HTTP status at all (a
 * transport failure, "not_paid"). "409 insufficient_stock" is a 409; whether it is *expected* is the
 * recorder's business (EndpointSummary.expected).
 */
export function isError(status: string): boolean {
  const match = /^(\d{3})(?: \S+)?$/.exec(status);
  return !match || Number(match[1]) >= 400;
}

function sorted(values: number[]): Float64Array {
  return Float64Array.from(values).sort();
}

/** Nearest-rank percentile of an ascending list; 0 for an empty one. */
export function percentile(ascending: ArrayLike<number>, p: number): number {
  if (ascending.length === 0) return 0;
  const rank = Math.min(ascending.length - 1, Math.max(0, Math.ceil((p / 100) * ascending.length) - 1));
  return ascending[rank]!;
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
