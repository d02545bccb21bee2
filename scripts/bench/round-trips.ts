/**
 * `npm run bench -- --rtt client=…,db=…,redis=…`: the network round trips the bench makes real, in
 * milliseconds, and how they are charged on the local stack:
 *   - client: the shopper → nearest Cloudflare location hop; a delaying TCP proxy in front of each
 *     Worker runtime (scripts/bench/delay-proxy.ts) holds every request and answer for half of it;
 *   - db: the Worker → Neon hop; the SQL-over-HTTP server waits this long before it runs each of the
 *     run database's requests (a delay fault scoped to that database, scripts/neon-http-server.ts);
 *   - redis: the Worker → Upstash hop; both Upstash REST servers (the catalog cache's and the
 *     throttles') wait this long before each request (an unscoped delay fault, scripts/upstash-rest-server.ts).
 * The stack's own control calls (/__stats, /__faults) are never delayed.
 */

/** One setting of the three hops, in milliseconds per round trip. */
export interface RoundTrips {
  client: number;
  db: number;
  redis: number;
}

export const NO_ROUND_TRIPS: RoundTrips = { client: 0, db: 0, redis: 0 };

/** The largest round trip accepted: beyond any city pair on Earth (~300 ms), with room for a bad mobile link. */
export const MAX_ROUND_TRIP_MS = 2_000;

const HOPS = ["client", "db", "redis"] as const;

/** "client=40,db=20,redis=10" → the setting; a hop not named costs 0. Throws with the reason on anything else. */
export function parseRoundTrips(raw: string): RoundTrips {
  const rt: RoundTrips = { ...NO_ROUND_TRIPS };
  const seen = new Set<string>();
  for (const part of raw.split(",").map((p) => p.trim())) {
    if (part === "") continue;
    const [name, value, extra] = part.split("=").map((p) => p.trim());
    if (!HOPS.includes(name as (typeof HOPS)[number]) || value === undefined || extra !== undefined) {
      throw new Error(`--rtt takes client=MS,db=MS,redis=MS (milliseconds); "${part}" is not one of them`);
    }
    if (seen.has(name!)) throw new Error(`--rtt names ${name} twice`);
    seen.add(name!);
    const ms = Number(value);
    if (value === "" || !Number.isFinite(ms) || ms < 0 || ms > MAX_ROUND_TRIP_MS) {
      throw new Error(`--rtt ${name}=${value}: a round trip is 0..${MAX_ROUND_TRIP_MS} ms`);
    }
    rt[name as (typeof HOPS)[number]] = ms;
  }
  if (seen.size === 0) throw new Error("--rtt names no hop (client=MS,db=MS,redis=MS)");
  return rt;
}

/** "client 40 ms, db 20 ms, redis 10 ms". */
export function roundTripsText(rt: RoundTrips): string {
  return HOPS.map((hop) => `${hop} ${rt[hop]} ms`).join(", ");
}
