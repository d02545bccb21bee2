/**
 * The FastAPI original's Locust user (README.md, "The FastAPI original"), for Node, on undici's Pool:
 *
 *   on_start: POST /api/v1/auth/login {"username", "password"} → access_token
 *   task 3:   GET  /api/v1/products?page=<1..10>
 *   task 2:   GET  /api/v1/products/<1..100>
 *   task 1:   POST /api/v1/orders {"items": [{"product_id": <1..100>, "quantity": <1..3>}]}
 *   wait 1–3 s between tasks (none with `wait: false`)
 *
 * Like Locust's HttpUser (python-requests), every request carries the user's bearer token once it has
 * one and `Accept-Encoding: gzip, deflate`, and a virtual user has at most one request in flight. Users start at `spawnRate` per second; the run
 * stops by itself after `durationS` seconds (in-flight requests may finish within a short grace).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { brotliDecompressSync, gunzipSync, inflateSync } from "node:zlib";
import { Pool } from "undici";
import { CHAPTER_USER, DEMO_PASSWORD, numberedUser, randomInt } from "./demo";
import { Recorder, type EndpointSummary, type TimelinePoint } from "./recorder";

export const ENDPOINTS = ["login", "list", "detail", "order"] as const;
export type Endpoint = (typeof ENDPOINTS)[number];
export const ENDPOINT_LABELS: Record<Endpoint, string> = {
  login: "POST /api/v1/auth/login",
  list: "GET /api/v1/products?page=1..10",
  detail: "GET /api/v1/products/1..100",
  order: "POST /api/v1/orders",
};

export interface ScenarioOptions {
  /** Base URL, e.g. http://127.0.0.1:8787 or https://tenpo.example.workers.dev */
  target: string;
  users: number;
  /** Users started per second. */
  spawnRate: number;
  durationS: number;
  /** Think time of 1–3 s between tasks (the original's); false = as fast as each user can go. */
  wait: boolean;
  /** "spread": user N logs in as user<N>@example.com (1..1000, round robin); "chapter": all as test@example.com. */
  accounts: "spread" | "chapter";
  /** Called every few seconds with a progress line. */
  progress?: (line: string) => void;
  /** Stops the run early (Ctrl-C). */
  signal?: AbortSignal;
}

export interface ScenarioResult {
  scenario: "locust-user";
  target: string;
  users: number;
  spawn_rate: number;
  duration_s: number;
  wait: boolean;
  accounts: ScenarioOptions["accounts"];
  started_at: string;
  /** Seconds from the first user's start until the last request ended (the req/s denominator). */
  window_s: number;
  users_started: number;
  /** Users whose login did not return a token (they went on without one, as a Locust user would). */
  logins_failed: number;
  endpoints: EndpointSummary[];
  overall: EndpointSummary;
  catalog_hit_ratio: { ratio: number | null; counted: number; without_header: number };
  timeline: TimelinePoint[];
}

const REQUEST_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 5_000;

export async function runLocustScenario(opts: ScenarioOptions): Promise<ScenarioResult> {
  const base = new URL(opts.target);
  const prefix = base.pathname.replace(/\/+$/, "");
  // One connection per user at most: a Locust user has one request in flight.
  const pool = new Pool(base.origin, {
    connections: Math.max(1, opts.users),
    pipelining: 1,
    headersTimeout: REQUEST_TIMEOUT_MS,
    bodyTimeout: REQUEST_TIMEOUT_MS,
    connectTimeout: 10_000,
  });
  const recorder = new Recorder(new Set(["list", "detail"]));
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  const startedAt = new Date();
  const t0 = performance.now();
  let started = 0;
  let loginsFailed = 0;

  async function call(
    endpoint: Endpoint,
    method: "GET" | "POST",
    path: string,
    token: string | undefined,
    body?: unknown,
  ): Promise<{ status: number; text: string } | null> {
    const headers: Record<string, string> = { accept: "application/json", "accept-encoding": "gzip, deflate" };
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const begin = performance.now();
    try {
      const res = await pool.request({
        method,
        path: prefix + path,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const raw = Buffer.from(await res.body.arrayBuffer());
      const xCache = res.headers["x-cache"];
      recorder.record(endpoint, res.statusCode, performance.now() - begin, Array.isArray(xCache) ? xCache[0] : xCache);
      // Only the login's body is read; the rest is received in full (that is the latency) and dropped.
      const text = endpoint === "login" ? decode(raw, res.headers["content-encoding"]) : "";
      return { status: res.statusCode, text };
    } catch (err) {
      const code = (err as { code?: string }).code ?? (err as Error).name ?? "ERROR";
      // A request cut off by the end of the run is not the server's failure.
      if (!(stop.signal.aborted && code === "UND_ERR_DESTROYED")) recorder.record(endpoint, code, performance.now() - begin);
      return null;
    }
  }

  async function login(index: number): Promise<string | undefined> {
    const username = opts.accounts === "chapter" ? CHAPTER_USER : numberedUser(index);
    const res = await call("login", "POST", "/api/v1/auth/login", undefined, { username, password: DEMO_PASSWORD });
    if (res?.status === 200) {
      try {
        const token = (JSON.parse(res.text) as { access_token?: unknown }).access_token;
        if (typeof token === "string") return token;
      } catch {
        // Not JSON: counted as a failed login below.
      }
    }
    loginsFailed += 1;
    return undefined;
  }

  async function user(index: number): Promise<void> {
    started += 1;
    const token = await login(index);
    while (!stop.signal.aborted) {
      const roll = Math.random() * 6;
      if (roll < 3) {
        await call("list", "GET", `/api/v1/products?page=${randomInt(1, 10)}`, token);
      } else if (roll < 5) {
        await call("detail", "GET", `/api/v1/products/${randomInt(1, 100)}`, token);
      } else {
        const items = [{ product_id: randomInt(1, 100), quantity: randomInt(1, 3) }];
        await call("order", "POST", "/api/v1/orders", token, { items });
      }
      if (opts.wait && !stop.signal.aborted) {
        await sleep(randomInt(1000, 3000), undefined, { signal: stop.signal }).catch(() => {});
      }
    }
  }

  const users: Promise<void>[] = [];
  const spawner = (async () => {
    for (let i = 0; i < opts.users && !stop.signal.aborted; i++) {
      const due = (i * 1000) / opts.spawnRate - (performance.now() - t0);
      if (due > 0) await sleep(due, undefined, { signal: stop.signal }).catch(() => {});
      if (stop.signal.aborted) break;
      users.push(user(i));
    }
  })();

  const ticker = setInterval(() => {
    const elapsed = (performance.now() - t0) / 1000;
    opts.progress?.(
      `${elapsed.toFixed(0)}/${opts.durationS} s: ${started} users, ${recorder.total} requests (${(recorder.total / elapsed).toFixed(0)} req/s)`,
    );
  }, 5000);
  await sleep(opts.durationS * 1000, undefined, { signal: stop.signal }).catch(() => {});
  stop.abort();
  clearInterval(ticker);
  await spawner;

  // In-flight requests may finish; after the grace the pool is torn down and they are dropped.
  const settled = Promise.allSettled(users);
  const grace = sleep(STOP_GRACE_MS).then(() => "timeout" as const);
  if ((await Promise.race([settled, grace])) === "timeout") await pool.destroy().catch(() => {});
  await settled;
  const windowS = (performance.now() - t0) / 1000;
  await pool.close().catch(() => {});
  opts.signal?.removeEventListener("abort", onAbort);

  return {
    scenario: "locust-user",
    target: opts.target,
    users: opts.users,
    spawn_rate: opts.spawnRate,
    duration_s: opts.durationS,
    wait: opts.wait,
    accounts: opts.accounts,
    started_at: startedAt.toISOString(),
    window_s: Math.round(windowS * 100) / 100,
    users_started: started,
    logins_failed: loginsFailed,
    endpoints: recorder.summary(windowS, ENDPOINTS),
    overall: recorder.overall(windowS),
    catalog_hit_ratio: recorder.catalogHitRatio(),
    timeline: recorder.timeline(),
  };
}

function decode(body: Buffer, encoding: string | string[] | undefined): string {
  const enc = (Array.isArray(encoding) ? encoding[0] : encoding)?.trim().toLowerCase();
  try {
    if (enc === "gzip") return gunzipSync(body).toString("utf8");
    if (enc === "deflate") return inflateSync(body).toString("utf8");
    if (enc === "br") return brotliDecompressSync(body).toString("utf8");
  } catch {
    return "";
  }
  return body.toString("utf8");
}
