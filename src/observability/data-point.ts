/**
 * The one layout of a request's metrics data point. The Analytics Engine write, the local metrics
 * sink (scripts/metrics-sink.ts), the local report (scripts/metrics-report.ts) and the production
 * SQL (scripts/analytics/*.sql) all read positions from here, so they cannot drift apart.
 *
 *   index1                         route pattern ("/api/v1/products/:id"), "unmatched" when no route
 *   blob1..blob6                   method, route pattern, status, cache status, colo, degraded
 *   double1..double6               duration ms, db round trips, db ms, cache lookups, cache ms, redis round trips
 *
 * Plain TypeScript without Worker or Node APIs: Node scripts import it too.
 */

/** Blob positions: blob1 is BLOB_FIELDS[0]. Append only; never reorder (stored data keeps its positions). */
export const BLOB_FIELDS = ["method", "route", "status", "cache_status", "colo", "degraded"] as const;
/**
 * Double positions: double1 is DOUBLE_FIELDS[0]. Append only. cache_ms came last, after the first four:
 * with db_ms it splits a request's duration into database, cache and the rest (Server-Timing shows the
 * same split per response). redis_round_trips after them: the Upstash REST requests a request waited
 * on or started (catalog cache and throttles), which an edge location far from Upstash pays one RTT each.
 */
export const DOUBLE_FIELDS = ["duration_ms", "db_round_trips", "db_ms", "cache_lookups", "cache_ms", "redis_round_trips"] as const;

/** The index (and route blob) of a request no route matched: keeps the index's cardinality bounded. */
export const UNMATCHED_ROUTE = "unmatched";
/** The cache status blob of a request no cache was involved in. */
export const NO_CACHE_STATUS = "NONE";
/** The colo blob when the runtime gives none (local development and tests). */
export const LOCAL_COLO = "local";

/**
 * The degraded blob: the dependencies that failed or were skipped for the request, sorted and
 * comma-separated ("db", "cache-api,redis"), "" when none. At most this many bytes.
 */
export const MAX_DEGRADED_BYTES = 64;

/** Analytics Engine: one index of at most 96 bytes, at most 20 blobs of 16 KB in total, at most 20 doubles. */
export const MAX_INDEX_BYTES = 96;

const KNOWN_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);
const CACHE_STATUSES = new Set(["HIT", "MISS", "STALE", "BYPASS"]);

/** What one request did, in plain names. */
export type RequestSample = {
  method: string;
  route: string;
  status: number;
  cacheStatus: string;
  colo: string;
  durationMs: number;
  dbRoundTrips: number;
  dbMs: number;
  cacheLookups: number;
  cacheMs: number;
  redisRoundTrips: number;
  /** See MAX_DEGRADED_BYTES: "" when every dependency answered. */
  degraded: string;
};

/** Structurally an AnalyticsEngineDataPoint, without depending on the Workers types. */
export type DataPoint = { indexes: [string]; blobs: string[]; doubles: number[] };

/** What the local sink receives and stores per line: the data point plus the time Analytics Engine would stamp. */
export type SinkRecord = DataPoint & { timestamp: number };

/** The data point of one request. The only place a request becomes a data point. */
export function toDataPoint(sample: RequestSample): DataPoint {
  const route = truncateUtf8(sample.route || UNMATCHED_ROUTE, MAX_INDEX_BYTES);
  const blobs: Record<(typeof BLOB_FIELDS)[number], string> = {
    method: KNOWN_METHODS.has(sample.method) ? sample.method : "OTHER",
    route,
    status: String(sample.status),
    cache_status: CACHE_STATUSES.has(sample.cacheStatus) ? sample.cacheStatus : NO_CACHE_STATUS,
    colo: truncateUtf8(sample.colo || LOCAL_COLO, 16),
    degraded: truncateUtf8(sample.degraded, MAX_DEGRADED_BYTES),
  };
  const doubles: Record<(typeof DOUBLE_FIELDS)[number], number> = {
    duration_ms: round(sample.durationMs),
    db_round_trips: sample.dbRoundTrips,
    db_ms: round(sample.dbMs),
    cache_lookups: sample.cacheLookups,
    cache_ms: round(sample.cacheMs),
    redis_round_trips: sample.redisRoundTrips,
  };
  return {
    indexes: [route],
    blobs: BLOB_FIELDS.map((name) => blobs[name]),
    doubles: DOUBLE_FIELDS.map((name) => doubles[name]),
  };
}

/** Reads a data point back into names (the report and tests). */
export function fromDataPoint(point: DataPoint): RequestSample {
  const blob = (name: (typeof BLOB_FIELDS)[number]) => point.blobs[BLOB_FIELDS.indexOf(name)] ?? "";
  const double = (name: (typeof DOUBLE_FIELDS)[number]) => point.doubles[DOUBLE_FIELDS.indexOf(name)] ?? 0;
  return {
    method: blob("method"),
    route: blob("route"),
    status: Number(blob("status")),
    cacheStatus: blob("cache_status"),
    colo: blob("colo"),
    degraded: blob("degraded"),
    durationMs: double("duration_ms"),
    dbRoundTrips: double("db_round_trips"),
    dbMs: double("db_ms"),
    cacheLookups: double("cache_lookups"),
    cacheMs: double("cache_ms"),
    redisRoundTrips: double("redis_round_trips"),
  };
}

/** Whether a parsed JSON value is a sink record of this layout. */
export function isSinkRecord(value: unknown): value is SinkRecord {
  if (typeof value !== "object" || value === null) return false;
  const r = value as Partial<SinkRecord>;
  return (
    typeof r.timestamp === "number" &&
    Number.isFinite(r.timestamp) &&
    Array.isArray(r.indexes) &&
    r.indexes.length === 1 &&
    typeof r.indexes[0] === "string" &&
    Array.isArray(r.blobs) &&
    r.blobs.length <= 20 &&
    r.blobs.every((b) => typeof b === "string") &&
    Array.isArray(r.doubles) &&
    r.doubles.length <= 20 &&
    r.doubles.every((d) => typeof d === "number" && Number.isFinite(d))
  );
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/** Cuts a string to at most `maxBytes` of UTF-8 without splitting a character. */
export function truncateUtf8(value: string, maxBytes: number): string {
  // A UTF-16 code unit is at most 3 bytes of UTF-8: short strings need no encoding.
  if (value.length * 3 <= maxBytes) return value;
  const encoder = new TextEncoder();
  if (encoder.encode(value).length <= maxBytes) return value;
  let out = "";
  let bytes = 0;
  for (const ch of value) {
    const size = encoder.encode(ch).length;
    if (bytes + size > maxBytes) break;
    out += ch;
    bytes += size;
  }
  return out;
}
