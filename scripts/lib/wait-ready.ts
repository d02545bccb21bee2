/** Waiting for a freshly started API: `npm start` and the bench both poll its readiness route. */

export interface WaitReadyOptions {
  /** The URL that answers 200 once the API is up, e.g. `http://127.0.0.1:8787/health/ready`. */
  url: string;
  /** How long to keep trying before giving up. */
  timeoutMs: number;
  /** The pause between two attempts. */
  pollMs: number;
  /** A bound on each attempt (none: an attempt waits as long as the server takes to answer). */
  requestTimeoutMs?: number;
  /** Stop trying as soon as this is false (the server process has exited). */
  alive?: () => boolean;
  /** Appended to the timeout error, e.g. the tail of the server's log. */
  failureDetail?: () => string;
}

/** Polls `url` until it answers 200; throws with the last answer after `timeoutMs` or once `alive()` is false. */
export async function waitUntilReady(opts: WaitReadyOptions): Promise<void> {
  const alive = opts.alive ?? (() => true);
  const deadline = Date.now() + opts.timeoutMs;
  let last = "no answer yet";
  while (Date.now() < deadline && alive()) {
    try {
      const signal = opts.requestTimeoutMs === undefined ? undefined : AbortSignal.timeout(opts.requestTimeoutMs);
      const res = await fetch(opts.url, { signal });
      if (res.ok) return;
      last = `${res.status} ${await res.text()}`;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, opts.pollMs));
  }
  const detail = opts.failureDetail ? `:\n${opts.failureDetail()}` : "";
  throw new Error(`the API did not become ready within ${opts.timeoutMs / 1000} s (last: ${last})${detail}`);
}
