import type { SinkRecord } from "./data-point";
import { errorFields, warnThrottled, type LogFields } from "./logging";

/**
 * Local only: Analytics Engine is a stub under wrangler dev, so when METRICS_SINK_URL is set the same
 * data points also go to scripts/metrics-sink.ts. Points are batched per isolate (one POST per
 * FLUSH_DELAY_MS or MAX_BATCH points) so a load test does not double the Worker's subrequests, and
 * every POST runs in `waitUntil`, after the response.
 */
const FLUSH_DELAY_MS = 200;
/**
 * ~250 bytes a point: 1,000 points are ~250 KB, far under the sink's 4 MiB limit, and at 10,000 req/s a
 * POST every 100 ms instead of every 10 ms (each costs the Worker a subrequest and the sink a parse).
 */
const MAX_BATCH = 1_000;

const pending = new Map<string, SinkRecord[]>();

export function sendToMetricsSink(ctx: Pick<ExecutionContext, "waitUntil">, url: string, record: SinkRecord): void {
  let batch = pending.get(url);
  if (!batch) {
    batch = [];
    pending.set(url, batch);
    // The request that opens a batch carries its flush; later requests only add to it.
    ctx.waitUntil(flushLater(url, batch));
  }
  batch.push(record);
  if (batch.length >= MAX_BATCH) {
    pending.delete(url);
    ctx.waitUntil(post(url, batch));
  }
}

async function flushLater(url: string, batch: SinkRecord[]): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, FLUSH_DELAY_MS));
  // Already sent when it filled up.
  if (pending.get(url) !== batch) return;
  pending.delete(url);
  await post(url, batch);
}

async function post(url: string, batch: SinkRecord[]): Promise<void> {
  const where: LogFields = { sink: url, points: batch.length };
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(batch),
    });
    if (!res.ok)
      warnThrottled("metrics-sink", "metrics sink refused points", {
        ...where,
        status: res.status,
        body: (await res.text()).slice(0, 200),
      });
    else await res.body?.cancel();
  } catch (err) {
    warnThrottled("metrics-sink", "metrics sink unreachable", { ...where, ...errorFields(err), stack: undefined });
  }
}
