/**
 * What every load scenario shares: virtual users started at `spawnRate` per second, a run that stops by
 * itself after `durationS` seconds (or on `signal`), a progress line every 5 s, and a short grace for
 * in-flight requests before the scenario's pools are torn down. The scenario supplies what one user
 * does (load/scenario.ts: the Locust user; load/storefront.ts: the storefront user).
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Recorder } from "./recorder";

const STOP_GRACE_MS = 5_000;
const PROGRESS_EVERY_MS = 5_000;

/** How many users, how fast, for how long. */
export interface VirtualUsersOptions {
  users: number;
  /** Users started per second. */
  spawnRate: number;
  durationS: number;
  /** Called every few seconds with a progress line. */
  progress?: (line: string) => void;
  /** Stops the run early (Ctrl-C). */
  signal?: AbortSignal;
}

/** What the runner measured of the run itself. */
export interface VirtualUsersRun {
  startedAt: Date;
  /** Seconds from the first user's start until the last request ended (the req/s denominator). */
  windowS: number;
  usersStarted: number;
}

/** What a scenario hands the runner. */
export interface Scenario {
  /** Counts requests for the progress line. */
  recorder: Recorder;
  /** Aborted when the run ends; users check it between requests. The runner aborts it. */
  stop: AbortController;
  /** One virtual user, index 0..users-1, until `stop` is aborted. */
  user(index: number): Promise<void>;
  /** Tears down the scenario's connections (in-flight requests fail) when the grace has passed. */
  destroy(): Promise<void>;
  /** Closes the scenario's connections at the very end. */
  close(): Promise<void>;
  /** Extra text for the progress line, e.g. "12 flows paid". */
  progressNote?(): string;
}

/** Runs the scenario's users for the duration and returns the run's window. */
export async function runVirtualUsers(opts: VirtualUsersOptions, scenario: Scenario): Promise<VirtualUsersRun> {
  const { stop, recorder } = scenario;
  const onAbort = (): void => stop.abort();
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  if (opts.signal?.aborted) stop.abort();
  const startedAt = new Date();
  const t0 = performance.now();
  let started = 0;

  const users: Promise<void>[] = [];
  const spawner = (async () => {
    for (let i = 0; i < opts.users && !stop.signal.aborted; i++) {
      const due = (i * 1000) / opts.spawnRate - (performance.now() - t0);
      if (due > 0) await sleep(due, undefined, { signal: stop.signal }).catch(() => {});
      if (stop.signal.aborted) break;
      started += 1;
      users.push(scenario.user(i));
    }
  })();

  const ticker = setInterval(() => {
    const elapsed = (performance.now() - t0) / 1000;
    const note = scenario.progressNote?.();
    opts.progress?.(
      `${elapsed.toFixed(0)}/${opts.durationS} s: ${started} users, ${recorder.total} requests (${(recorder.total / elapsed).toFixed(0)} req/s)` +
        (note ? `, ${note}` : ""),
    );
  }, PROGRESS_EVERY_MS);
  await sleep(opts.durationS * 1000, undefined, { signal: stop.signal }).catch(() => {});
  stop.abort();
  clearInterval(ticker);
  await spawner;

  // In-flight requests may finish; after the grace the pools are torn down and they are dropped.
  const settled = Promise.allSettled(users);
  const grace = sleep(STOP_GRACE_MS).then(() => "timeout" as const);
  if ((await Promise.race([settled, grace])) === "timeout") await scenario.destroy();
  await settled;
  const windowS = (performance.now() - t0) / 1000;
  await scenario.close();
  opts.signal?.removeEventListener("abort", onAbort);
  return { startedAt, windowS: Math.round(windowS * 100) / 100, usersStarted: started };
}
