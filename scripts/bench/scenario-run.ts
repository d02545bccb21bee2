/**
 * The counters the bench reads around a load scenario (the Locust user, the storefront user): it waits
 * for a quiet database first, then reads the SQL-over-HTTP and Upstash REST counts, the CPU of the app's
 * processes and the machine's other load before and after the run, per request.
 */
import type { ProcRole } from "./proc";
import { cpuDelta, otherLoadMeter } from "./proc";
import { settle, type Settle } from "./phases";
import type { BenchStack } from "./stack";

/** What the bench measured around one scenario run, besides the scenario's own result. */
export interface ScenarioCounters {
  /** SQL-over-HTTP requests during the run ÷ the scenario's requests (background work included). */
  db_round_trips_per_request: number | null;
  /** Upstash REST requests during the run ÷ the scenario's requests (null: the cache runs on KV alone). */
  cache_round_trips_per_request: number | null;
  /** CPU ms per request by process role (as for the phases), over the whole run. */
  cpu_ms_per_request: Record<ProcRole, number> | null;
  /** Cores busy with processes other than the bench's during the run. */
  other_load_cores: number;
  /** The wait for a quiet database before the run. */
  settle: Settle;
}

/** The raw totals behind ScenarioCounters, for figures per something else than a request. */
export interface ScenarioTotals {
  dbRoundTrips: number;
  requests: number;
}

/**
 * Settles, runs `scenario` with the counters read around it, and returns its result with the counters
 * per request (`requestsOf` says how many requests the result holds).
 */
export async function measureScenario<T>(
  stack: BenchStack,
  label: string,
  log: (line: string) => void,
  scenario: () => Promise<T>,
  requestsOf: (result: T) => number,
): Promise<{ result: T; counters: ScenarioCounters; totals: ScenarioTotals }> {
  const settled = await settle(stack, label, log);
  const db0 = await stack.dbRoundTrips();
  const cache0 = await stack.cacheRoundTrips();
  const cpu0 = stack.processes("app");
  const otherLoad = otherLoadMeter();
  const result = await scenario();
  const otherCores = otherLoad();
  const cpu = cpuDelta(cpu0, stack.processes("app"));
  const db1 = await stack.dbRoundTrips();
  const cache1 = await stack.cacheRoundTrips();
  const n = requestsOf(result);
  const per = (v: number): number => Math.round((v / n) * 1000) / 1000;
  return {
    result,
    counters: {
      db_round_trips_per_request: n ? per(db1 - db0) : null,
      cache_round_trips_per_request: n && cache0 !== null && cache1 !== null ? per(cache1 - cache0) : null,
      cpu_ms_per_request: n
        ? { worker: per(cpu.worker), host: per(cpu.host), services: per(cpu.services), datastores: per(cpu.datastores) }
        : null,
      other_load_cores: Math.round(otherCores * 100) / 100,
      settle: settled,
    },
    totals: { dbRoundTrips: db1 - db0, requests: n },
  };
}
