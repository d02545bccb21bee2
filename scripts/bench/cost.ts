/**
 * What a million requests would cost on Workers Standard, from the CPU per request the bench measured.
 * Prices: $0.30 per million requests plus $0.02 per million CPU milliseconds; the monthly included
 * allowance (requests and CPU-ms) is left out, so this is the marginal price past it.
 */

/** Workers Standard usage prices, in US dollars. */
export const WORKERS_STANDARD = { perMillionRequestsUsd: 0.3, perMillionCpuMsUsd: 0.02 } as const;

/** One million requests of a mix, priced. */
export interface CostEstimate {
  /** The CPU figure used: ms per request. */
  cpu_ms_per_request: number;
  requests_usd: number;
  cpu_usd: number;
  total_usd: number;
}

/**
 * $ per million requests: requests + CPU (cpu ms/req × 1 M requests = that many million CPU-ms). Null
 * when no CPU figure was measured.
 */
export function costPerMillionRequests(cpuMsPerRequest: number | null): CostEstimate | null {
  if (cpuMsPerRequest === null || !Number.isFinite(cpuMsPerRequest)) return null;
  const cpu = WORKERS_STANDARD.perMillionCpuMsUsd * cpuMsPerRequest;
  const round = (usd: number): number => Math.round(usd * 10_000) / 10_000;
  return {
    cpu_ms_per_request: cpuMsPerRequest,
    requests_usd: WORKERS_STANDARD.perMillionRequestsUsd,
    cpu_usd: round(cpu),
    total_usd: round(WORKERS_STANDARD.perMillionRequestsUsd + cpu),
  };
}
