import { settingsOf, type SettingsSource } from "../config";
import type { RequestSample } from "./data-point";

/**
 * How much of a request's timing the `Server-Timing` header shows, per deployment (SERVER_TIMING):
 *   - "detail": database time and query count, Redis round trips, cache time and outcome, total. A tuning aid, locally
 *               and in tests; deployed it would show anyone how long our database takes per query;
 *   - "total":  the total only: the Worker's own time, no split by dependency;
 *   - "off":    no header. The same figures stay in Analytics Engine and the logs for us.
 * Unset or anything else is "off": a deployment that names no mode tells nothing.
 */
export type ServerTimingMode = "detail" | "total" | "off";

/** The deployment's mode (Settings.serverTiming). */
export function serverTimingMode(env: SettingsSource): ServerTimingMode {
  return settingsOf(env).serverTiming;
}

/**
 * The header's value for a request in this mode, or undefined for none:
 * `db;dur=12.5;desc="3 queries", redis;desc="1 call", cache;dur=0.8;desc="HIT", total;dur=20.1` in detail,
 * `total;dur=20.1` in total. Redis calls are counted (one per Upstash REST request), not timed: each
 * is a network round trip at the edge, and the count is what the latency model charges (load/latency/).
 */
export function serverTiming(sample: RequestSample, mode: ServerTimingMode): string | undefined {
  if (mode === "off") return undefined;
  const total = `total;dur=${ms(sample.durationMs)}`;
  if (mode === "total") return total;
  const n = sample.dbRoundTrips;
  const r = sample.redisRoundTrips;
  return [
    `db;dur=${ms(sample.dbMs)};desc="${n} ${n === 1 ? "query" : "queries"}"`,
    `redis;desc="${r} ${r === 1 ? "call" : "calls"}"`,
    `cache;dur=${ms(sample.cacheMs)};desc="${sample.cacheStatus}"`,
    total,
  ].join(", ");
}

function ms(value: number): string {
  return (Math.round(value * 10) / 10).toString();
}
