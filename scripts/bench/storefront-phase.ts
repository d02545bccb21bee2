/**
 * The bench's storefront phase: the storefront user (load/storefront.ts) against the bench's own app,
 * paying at the bench's own Stripe stand-in (which sends its events to that app's webhook), with the
 * counters read around it (scripts/bench/scenario-run.ts). Its own report (result.json, result.md,
 * latency.svg) goes to bench-<timestamp>-storefront/.
 */
import { runStorefront, type StripeEndpoint } from "../../load/storefront";
import { writeStorefrontReport } from "../../load/storefront-report";
import { send } from "./phases";
import type { StorefrontRun, StorefrontSkipped } from "./report";
import { measureScenario } from "./scenario-run";
import type { BenchStack } from "./stack";

export interface StorefrontPhaseOptions {
  users: number;
  durationS: number;
  /** Where the storefront's own report goes. */
  outDir: string;
  /** The stack's Stripe stand-in, where the users confirm their payments. */
  stripe: StripeEndpoint;
  log: (line: string) => void;
}

/** The phase's label in the report. */
export function storefrontLabel(users: number, durationS: number): string {
  return `storefront user, ${users} users, no think time, ${durationS} s`;
}

/** Runs the storefront user, or says why it could not (no cart routes). */
export async function runStorefrontPhase(stack: BenchStack, opts: StorefrontPhaseOptions): Promise<StorefrontRun | StorefrontSkipped> {
  const label = storefrontLabel(opts.users, opts.durationS);
  const { stripe, log } = opts;
  // Is the storefront's API there at all? A guest cart is the one request that needs nothing else.
  const pre = await send(stack.apiUrl, "POST", { path: "/api/v1/carts" });
  if (pre.status === 404 || pre.status === 405) {
    return { label, skipped: `n/a: POST /api/v1/carts answered ${pre.status} (${pre.text.slice(0, 90).replace(/\s+/g, " ")})` };
  }
  const { result, counters, totals } = await measureScenario(
    stack,
    label,
    log,
    () =>
      runStorefront({
        target: stack.apiUrl,
        stripe,
        users: opts.users,
        spawnRate: 100,
        durationS: opts.durationS,
        progress: (line) => log(`  ${line}`),
      }),
    (r) => r.overall.requests,
  );
  writeStorefrontReport(opts.outDir, result);
  const paid = result.flows.completed;
  return {
    label,
    skipped: null,
    result,
    ...counters,
    db_round_trips_per_purchase: paid > 0 ? Math.round((totals.dbRoundTrips / paid) * 100) / 100 : null,
  };
}
