import { TimeoutError, withTimeout } from "../lib/with-timeout";
import { LogThrottle, errorFields, log, warnThrottled } from "../observability/logging";
import { recordDegraded } from "../observability/request-stats";
import { CALL_TIMEOUT_MS, EVENT_LOOP_LAG_MS, FAILURE_LOG_INTERVAL_MS, RETRY_AFTER_MS } from "./policy";

/** A layer that is skipped for now after failing: the read falls through without waiting. */
export class LayerUnavailableError extends Error {
  constructor(layer: string) {
    super(`${layer} is skipped after a recent failure`);
    this.name = "LayerUnavailableError";
  }
}

export type RunOptions = { timeoutMs?: number; evenIfSkipped?: boolean };

/**
 * One cache dependency (the version store, the Cache API, KV or Redis) as seen from this isolate:
 * every call is bounded by CALL_TIMEOUT_MS; after a failure the dependency is skipped for
 * RETRY_AFTER_MS so a dead Redis costs one timeout per interval, not one per request; failures are
 * logged at most once per FAILURE_LOG_INTERVAL_MS with how many there were (`failures`), and every
 * request that met the layer failing or skipped has it in its `degraded` stats (log line and metrics).
 *
 * A timeout noticed EVENT_LOOP_LAG_MS or more after it was due says the isolate was busy, not the
 * layer: it fails the call but does not make the layer skipped while the layer answered within the
 * last RETRY_AFTER_MS (see policy.ts).
 */
export class LayerGuard {
  private skipUntil = 0;
  private failing = false;
  private answeredAt = Number.NEGATIVE_INFINITY;
  private readonly failureLog = new LogThrottle(FAILURE_LOG_INTERVAL_MS);

  /** What the layer depends on, as request stats name it: "redis", "kv", "cache-api" or "db". */
  readonly dependency: string;

  constructor(readonly layer: string) {
    this.dependency = layer === "versions-redis" ? "redis" : layer === "versions-postgres" ? "db" : layer;
  }

  get available(): boolean {
    return Date.now() >= this.skipUntil;
  }

  /**
   * Runs `call` within the time limit; throws LayerUnavailableError at once while the layer is
   * skipped, unless `evenIfSkipped` (a version bump is worth a try whatever happened before).
   */
  async run<T>(what: string, call: () => Promise<T>, options: RunOptions = {}): Promise<T> {
    const { timeoutMs = CALL_TIMEOUT_MS, evenIfSkipped = false } = options;
    if (!this.available && !evenIfSkipped) {
      recordDegraded(this.dependency);
      throw new LayerUnavailableError(this.layer);
    }
    const started = Date.now();
    try {
      const result = await withTimeout(call(), timeoutMs, `${this.layer} ${what}`);
      this.recovered();
      return result;
    } catch (err) {
      recordDegraded(this.dependency);
      const lateMs = Date.now() - started - timeoutMs;
      if (isTimeout(err) && lateMs >= EVENT_LOOP_LAG_MS && Date.now() - this.answeredAt < RETRY_AFTER_MS) {
        warnThrottled(`isolate-busy ${this.layer}`, "catalog cache call timed out while this isolate was busy; the layer stays in use", {
          layer: this.layer,
          operation: what,
          late_ms: lateMs,
        });
      } else {
        this.failed(what, err);
      }
      throw err;
    }
  }

  /** Records a failure that happened outside `run` (e.g. a background write). */
  failed(what: string, err: unknown): void {
    const now = Date.now();
    this.skipUntil = now + RETRY_AFTER_MS;
    this.failing = true;
    const failures = this.failureLog.count(now);
    if (failures === undefined) return;
    log("warn", "catalog cache layer failing: reads go on without it (next layer, else Postgres)", {
      layer: this.layer,
      operation: what,
      failures,
      retry_after_ms: RETRY_AFTER_MS,
      ...errorFields(err),
      stack: undefined,
    });
  }

  private recovered(): void {
    this.answeredAt = Date.now();
    if (!this.failing) return;
    this.failing = false;
    // An answer (a bump or a background read, made even while skipped) ends the skipping too.
    this.skipUntil = 0;
    log("info", "catalog cache layer answers again", { layer: this.layer });
  }
}

/** Our timeout, or the client's own (AbortSignal.timeout rejects with a DOMException of that name). */
function isTimeout(err: unknown): boolean {
  if (err instanceof TimeoutError) return true;
  const name = (err as { name?: unknown } | null)?.name;
  return name === "TimeoutError" || name === "AbortError";
}
