/**
 * The FastAPI original's own time per endpoint, measured like the bench probes Tenpo's: one request
 * at a time, on loopback, after a warm-up that has read every product and list page the probes read
 * (so its Redis cache is as warm as Tenpo's after its warm-up phases). Run against an original that is
 * already running (load/README.md, "What the edge buys a shopper far away"). The original's database and
 * Redis run beside it, so a request crosses no round trip the model would charge: every sample says 0.
 */
import os from "node:os";
import { CHAPTER_USER, DEMO_PASSWORD, numberedUser, randomInt } from "../demo";
import type { LatencySample } from "./model";

/** One endpoint's sequential requests. */
export interface PeerProbe {
  key: string;
  label: string;
  samples: LatencySample[];
}

/** What `npm run latency-model -- --measure-peer URL` writes (load/results/peer-probe-<timestamp>.json). */
export interface PeerProbeRun {
  target: string;
  started_at: string;
  requests_per_endpoint: number;
  load_average: string;
  probes: PeerProbe[];
}

interface Request {
  method: "GET" | "POST";
  path: string;
  token?: string;
  body?: unknown;
  kind?: string;
}

async function timed(base: string, req: Request): Promise<LatencySample> {
  const headers: Record<string, string> = { accept: "application/json", "accept-encoding": "gzip" };
  if (req.token) headers.authorization = `Bearer ${req.token}`;
  if (req.body !== undefined) headers["content-type"] = "application/json";
  const started = performance.now();
  const res = await fetch(`${base}${req.path}`, {
    method: req.method,
    headers,
    body: req.body === undefined ? undefined : JSON.stringify(req.body),
    signal: AbortSignal.timeout(30_000),
  });
  await res.arrayBuffer();
  const ms = performance.now() - started;
  return { ms: Math.round(ms * 100) / 100, db: 0, redis: 0, status: res.status, ...(req.kind ? { kind: req.kind } : {}) };
}

async function token(base: string, username: string): Promise<string> {
  const res = await fetch(`${base}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password: DEMO_PASSWORD }),
    signal: AbortSignal.timeout(30_000),
  });
  const body = (await res.json()) as { access_token?: string };
  if (!res.ok || !body.access_token) throw new Error(`login as ${username} at ${base} answered ${res.status}`);
  return body.access_token;
}

/** Probes the original at `base`: warm-up, then `count` requests per endpoint and 2 × `count` of the mix. */
export async function probePeer(base: string, count: number, log: (line: string) => void): Promise<PeerProbeRun> {
  const startedAt = new Date();
  const orderToken = await token(base, CHAPTER_USER);
  const listToken = await token(base, numberedUser(0));
  const order = (): Request => ({
    kind: "order",
    method: "POST",
    path: "/api/v1/orders",
    token: orderToken,
    body: { items: [{ product_id: randomInt(1, 100), quantity: randomInt(1, 3) }] },
  });
  const list = (): Request => ({ kind: "list", method: "GET", path: `/api/v1/products?page=${randomInt(1, 10)}` });
  const detail = (): Request => ({ kind: "detail", method: "GET", path: `/api/v1/products/${randomInt(1, 100)}` });
  log("warm-up: list pages 1..10 and products 1..100, twice");
  for (let round = 0; round < 2; round++) {
    for (let page = 1; page <= 10; page++) await timed(base, { method: "GET", path: `/api/v1/products?page=${page}` });
    for (let id = 1; id <= 100; id++) await timed(base, { method: "GET", path: `/api/v1/products/${id}` });
  }
  const endpoints: Array<{ key: string; label: string; next: () => Request; n: number }> = [
    { key: "health", label: "GET /health", next: () => ({ method: "GET", path: "/health" }), n: count },
    { key: "list", label: "GET /api/v1/products?page=1..10", next: list, n: count },
    { key: "detail", label: "GET /api/v1/products/1..100", next: detail, n: count },
    {
      key: "orders-list",
      label: "GET /api/v1/orders",
      next: () => ({ method: "GET", path: "/api/v1/orders", token: listToken }),
      n: count,
    },
    { key: "order-create", label: "POST /api/v1/orders", next: order, n: count },
    {
      key: "mix",
      label: "the chapter's mix, one shopper (3 list : 2 detail : 1 order)",
      next: () => {
        const roll = Math.random() * 6;
        return roll < 3 ? list() : roll < 5 ? detail() : order();
      },
      n: count * 2,
    },
  ];
  const probes: PeerProbe[] = [];
  for (const e of endpoints) {
    const samples: LatencySample[] = [];
    for (let i = 0; i < e.n; i++) samples.push(await timed(base, e.next()));
    const sorted = samples.map((s) => s.ms).sort((a, b) => a - b);
    log(
      `${e.label}: ${e.n} requests, p50 ${sorted[Math.floor(sorted.length / 2)]} ms, statuses ${[...new Set(samples.map((s) => s.status))].join(", ")}`,
    );
    probes.push({ key: e.key, label: e.label, samples });
  }
  return {
    target: base,
    started_at: startedAt.toISOString(),
    requests_per_endpoint: count,
    load_average: os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" "),
    probes,
  };
}
