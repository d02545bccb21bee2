/**
 * Specification of the bench's client round trip (scripts/bench/delay-proxy.ts): a TCP proxy that
 * holds every chunk for half the round trip each way, so a request and its answer cost one round trip
 * more, and passes the bytes through unchanged and in order.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDelayProxy, type DelayProxy } from "../../../scripts/bench/delay-proxy";

let server: http.Server;
let proxy: DelayProxy;
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/** One request over the kept-alive connection: its status, body and how long it took. */
function get(path: string, body?: string): Promise<{ status: number; text: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(`${proxy.url}${path}`, { agent, method: body === undefined ? "GET" : "POST" }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode!, text: Buffer.concat(chunks).toString(), ms: performance.now() - started }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      // Two writes: the answer crosses the proxy in more than one chunk.
      res.write(`path ${req.url} `);
      res.end(`body ${Buffer.concat(chunks).toString()}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  proxy = await startDelayProxy({ targetPort: (server.address() as AddressInfo).port });
});

afterAll(async () => {
  agent.destroy();
  await proxy.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe("the delaying proxy", () => {
  it("passes requests and answers through unchanged at 0 ms", async () => {
    proxy.setRoundTrip(0);
    const res = await get("/a?b=1", "x".repeat(100_000));
    expect(res.status).toBe(200);
    expect(res.text).toBe(`path /a?b=1 body ${"x".repeat(100_000)}`);
  });

  it("makes each request on a kept-alive connection cost one more round trip, not two", async () => {
    proxy.setRoundTrip(80);
    expect(proxy.rttMs).toBe(80);
    for (let i = 0; i < 3; i++) {
      const res = await get(`/r${i}`);
      expect(res.text).toBe(`path /r${i} body `);
      expect(res.ms).toBeGreaterThanOrEqual(80 - 1);
      expect(res.ms).toBeLessThan(2 * 80);
    }
  });

  it("keeps the bytes of a large upload in order while holding them", async () => {
    proxy.setRoundTrip(20);
    const body = Array.from({ length: 20_000 }, (_, i) => String(i % 10)).join("");
    const res = await get("/upload", body);
    expect(res.text).toBe(`path /upload body ${body}`);
  });

  it("refuses a negative or non-numeric round trip", () => {
    expect(() => proxy.setRoundTrip(-1)).toThrow(/≥ 0/);
    expect(() => proxy.setRoundTrip(Number.NaN)).toThrow();
  });
});
