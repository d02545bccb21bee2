import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { neonConfig } from "@neondatabase/serverless";
import { expect, vi } from "vitest";
import { app } from "../../src/app";
import { expectDocumented, type ErrorBody } from "../support/api";
import { sqlServerFetch } from "../support/sql-server";

/**
 * Fault injection for test/faults: real faults in the local protocol servers (their /__faults hooks),
 * scoped so that test files running in parallel on the same servers and the same database never
 * see them:
 *   - SQL: a marker of the test's own in DATABASE_URL (`application_name=<marker>`, which the driver
 *     forwards in Neon-Connection-String and the server otherwise ignores); the requests that should
 *     meet the fault go through apiWithEnv({ DATABASE_URL: markedUrl }), everything else (the test's
 *     own checks in Postgres) does not carry the marker;
 *   - Redis: the cache namespace of the test's own (CACHE_NAMESPACE), which prefixes every key the
 *     catalog cache touches; for the throttles' own Redis, a THROTTLE_NAMESPACE of the test's own;
 *   - down: a port nothing listens on.
 * Every fault set here is remembered and cleared by `clearFaults()` (afterEach), scope by scope.
 */

export type SqlFault = {
  delayMs?: number;
  failStatus?: number;
  drop?: boolean;
  failAt?: "before" | "mid-batch" | "after-commit";
  times?: number;
};
export type SqlFaultRecord = SqlFault & { marker: string; matched: number; applied: number; settled: number };

const sqlMarkers = new Set<string>();

/** A DATABASE_URL of the test's own: the same database, with a marker that SQL faults can target. */
export function markedDatabase(label = "fault"): { marker: string; url: string } {
  const marker = `${label}${crypto.randomUUID().replaceAll("-", "")}`;
  const url = new URL(env.DATABASE_URL);
  url.searchParams.set("application_name", marker);
  return { marker, url: url.toString() };
}

export async function setSqlFault(marker: string, fault: SqlFault): Promise<void> {
  sqlMarkers.add(marker);
  const res = await sqlServerFetch("/__faults", { method: "POST", body: JSON.stringify({ marker, ...fault }) });
  if (res.status !== 200) throw new Error(`SQL server refused the fault: ${res.status} ${await res.text()}`);
}

/** The fault's counters: requests it matched, acted on, and that have finished. */
export async function sqlFault(marker: string): Promise<SqlFaultRecord | undefined> {
  const res = await sqlServerFetch("/__faults");
  return ((await res.json()) as { faults: SqlFaultRecord[] }).faults.find((f) => f.marker === marker);
}

export async function clearSqlFault(marker: string): Promise<void> {
  await sqlServerFetch(`/__faults?marker=${encodeURIComponent(marker)}`, { method: "DELETE" });
  sqlMarkers.delete(marker);
}

/** Waits until every request the fault matched has finished on the server (a delayed one too). */
export async function sqlFaultSettled(marker: string, timeoutMs = 15_000): Promise<SqlFaultRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const record = await sqlFault(marker);
    if (!record) throw new Error(`no fault for ${marker}`);
    if (record.settled === record.matched || Date.now() > deadline) return record;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

type RedisFault = { delayMs?: number; failStatus?: number };

/** One of the run's Upstash REST servers (the catalog cache's, the throttles'), and the fault scopes set on it. */
class UpstashFaults {
  readonly prefixes = new Set<string>();
  constructor(
    private readonly name: string,
    private readonly url: () => string,
    private readonly token: () => string,
  ) {}

  async set(keyPrefix: string, fault: RedisFault): Promise<void> {
    this.prefixes.add(keyPrefix);
    const res = await fetch(`${this.url()}/__faults`, {
      method: "POST",
      headers: { Authorization: `Bearer ${this.token()}` },
      body: JSON.stringify({ keyPrefix, ...fault }),
    });
    if (res.status !== 200) throw new Error(`${this.name} refused the fault: ${res.status} ${await res.text()}`);
  }

  async clear(keyPrefix: string): Promise<void> {
    await fetch(`${this.url()}/__faults?keyPrefix=${encodeURIComponent(keyPrefix)}`, {
      method: "DELETE",
      headers: { Authorization: `Bearer ${this.token()}` },
    });
    this.prefixes.delete(keyPrefix);
  }
}

const cacheRedis = new UpstashFaults(
  "Upstash server",
  () => env.UPSTASH_REDIS_REST_URL,
  () => env.UPSTASH_REDIS_REST_TOKEN,
);
const throttleRedis = new UpstashFaults(
  "throttle Upstash server",
  () => env.THROTTLE_REDIS_REST_URL,
  () => env.THROTTLE_REDIS_REST_TOKEN,
);

/** A fault in the catalog cache's Upstash REST server, for keys under `keyPrefix` (a CACHE_NAMESPACE of the test's own). */
export const setRedisFault = (keyPrefix: string, fault: RedisFault): Promise<void> => cacheRedis.set(keyPrefix, fault);
export const clearRedisFault = (keyPrefix: string): Promise<void> => cacheRedis.clear(keyPrefix);

/** A fault in the throttles' own Upstash REST server, for keys under `keyPrefix` (a THROTTLE_NAMESPACE of the test's own). */
export const setThrottleRedisFault = (keyPrefix: string, fault: RedisFault): Promise<void> => throttleRedis.set(keyPrefix, fault);
export const clearThrottleRedisFault = (keyPrefix: string): Promise<void> => throttleRedis.clear(keyPrefix);

/** Clears every fault this file set, and points the driver back at the run's SQL server. */
export async function clearFaults(): Promise<void> {
  for (const marker of [...sqlMarkers]) await clearSqlFault(marker);
  for (const server of [cacheRedis, throttleRedis]) {
    for (const prefix of [...server.prefixes]) await server.clear(prefix);
  }
  // neonConfig.fetchEndpoint is a global of the driver: a request made with another NEON_HTTP_ENDPOINT moved it.
  neonConfig.fetchEndpoint = env.NEON_HTTP_ENDPOINT;
}

/**
 * A request through the app with some bindings replaced (like apiWithEnv), and how long the client
 * waited for its response: background work (waitUntil) is not part of that, but is waited for
 * before this returns.
 */
export async function timed(overrides: Partial<Env>, path: string, init?: RequestInit): Promise<{ res: Response; ms: number }> {
  const ctx = createExecutionContext();
  const request = new Request(`http://tenpo.localhost${path}`, init);
  const line = { method: request.method, url: request.url };
  const started = realNow();
  const res = await app.fetch(request, { ...env, ...overrides }, ctx);
  const ms = realNow() - started;
  await waitOnExecutionContext(ctx);
  // After the clock stopped: the check is not part of what the client waited for.
  await expectDocumented(line, res);
  return { res, ms };
}

/** The real clock, also while a test moves Date.now. */
export const realNow = Date.now.bind(Date);

/** A 503 in the contract's shape with Retry-After, and nothing of the database's internals in it. */
export async function expectServiceUnavailable(res: Response): Promise<void> {
  const text = await res.text();
  expect(res.status, text).toBe(503);
  expect(res.headers.get("Retry-After")).toMatch(/^\d+$/);
  const body = JSON.parse(text) as ErrorBody;
  expect(body.error.code).toBe("service_unavailable");
  expect(Object.keys(body.error).sort()).toEqual(["code", "message"]);
  expect(text).not.toMatch(/127\.0\.0\.1|postgres|tenpo_test|select |insert |Injected|HTTP status|\.ts:\d+/i);
}

/** A metrics binding that keeps the data points written to it. */
export function capturingMetrics(): { binding: AnalyticsEngineDataset; points: AnalyticsEngineDataPoint[] } {
  const points: AnalyticsEngineDataPoint[] = [];
  return {
    binding: { writeDataPoint: (point?: AnalyticsEngineDataPoint) => void points.push(point ?? {}) } as AnalyticsEngineDataset,
    points,
  };
}

/** Silences the error and warn lines a fault is expected to log; returns the warn spy to assert on. */
export function quietLogs() {
  vi.spyOn(console, "error").mockImplementation(() => {});
  return vi.spyOn(console, "warn").mockImplementation(() => {});
}
