/**
 * The FastAPI original's Locust user (README.md, "The FastAPI original"), for Node, on undici's Pool
 * (load/recording-client.ts) and the shared user runner (load/virtual-users.ts):
 *
 *   on_start: POST /api/v1/auth/login {"username", "password"} → access_token
 *   task 3:   GET  /api/v1/products?page=<1..10>
 *   task 2:   GET  /api/v1/products/<1..100>
 *   task 1:   POST /api/v1/orders {"items": [{"product_id": <1..100>, "quantity": <1..3>}]}
 *   wait 1–3 s between tasks (none with `wait: false`)
 *
 * Like Locust's HttpUser (python-requests), every request carries the user's bearer token once it has
 * one and `Accept-Encoding: gzip, deflate`, and a virtual user has at most one request in flight. Users
 * start at `spawnRate` per second; the run stops by itself after `durationS` seconds (in-flight requests
 * may finish within a short grace).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { CHAPTER_USER, numberedUser, randomInt } from "./demo";
import { logIn } from "./login";
import { Recorder, type EndpointSummary, type TimelinePoint } from "./recorder";
import { apiHeaders, RecordingClient } from "./recording-client";
import { runVirtualUsers, type VirtualUsersOptions } from "./virtual-users";

export const ENDPOINTS = ["login", "list", "detail", "order"] as const;
export type Endpoint = (typeof ENDPOINTS)[number];
export const ENDPOINT_LABELS: Record<Endpoint, string> = {
  login: "POST /api/v1/auth/login",
  list: "GET /api/v1/products?page=1..10",
  detail: "GET /api/v1/products/1..100",
  order: "POST /api/v1/orders",
};

export interface ScenarioOptions extends VirtualUsersOptions {
  /** Base URL, e.g. http://127.0.0.1:8787 or https://tenpo.example.workers.dev */
  target: string;
  /** Think time of 1–3 s between tasks (the original's); false = as fast as each user can go. */
  wait: boolean;
  /** "spread": user N logs in as user<N>@example.com (1..1000, round robin); "chapter": all as test@example.com. */
  accounts: "spread" | "chapter";
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

export async function runLocustScenario(opts: ScenarioOptions): Promise<ScenarioResult> {
  const recorder = new Recorder(new Set(["list", "detail"]));
  const stop = new AbortController();
  // One connection per user at most: a Locust user has one request in flight.
  const api = new RecordingClient(opts.target, opts.users, recorder, stop.signal);
  let loginsFailed = 0;

  async function call(endpoint: Endpoint, method: "GET" | "POST", path: string, token: string | undefined, body?: unknown): Promise<void> {
    const json = body !== undefined;
    await api.request(endpoint, { method, path, headers: apiHeaders(token, json), body: json ? JSON.stringify(body) : undefined });
  }

  async function user(index: number): Promise<void> {
    const token = await logIn(api, opts.accounts === "chapter" ? CHAPTER_USER : numberedUser(index));
    // A user whose login failed goes on without a token, as a Locust user would.
    if (token === undefined) loginsFailed += 1;
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

  const run = await runVirtualUsers(opts, { recorder, stop, user, destroy: () => api.destroy(), close: () => api.close() });
  return {
    scenario: "locust-user",
    target: opts.target,
    users: opts.users,
    spawn_rate: opts.spawnRate,
    duration_s: opts.durationS,
    wait: opts.wait,
    accounts: opts.accounts,
    started_at: run.startedAt.toISOString(),
    window_s: run.windowS,
    users_started: run.usersStarted,
    logins_failed: loginsFailed,
    endpoints: recorder.summary(run.windowS, ENDPOINTS),
    overall: recorder.overall(run.windowS),
    catalog_hit_ratio: recorder.catalogHitRatio(),
    timeline: recorder.timeline(),
  };
}
