/**
 * Specification of what keeps web pages away from the four local servers (scripts/local-http.ts, used by
 * each), run in Node: only raw HTTP can send the Host header of a DNS-rebinding page, which workerd's
 * fetch always derives from the URL. Each server runs here on a free port with secrets of this file;
 * the Upstash REST server has no Redis behind it (a closed port), so a command that got past its
 * refusal would answer 503, and nothing here can touch the machine's shared Redis.
 */
import http from "node:http";
import net from "node:net";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newLocalSecret } from "../../scripts/local-http";
import { startMailSink, type MailSink } from "../../scripts/mail-sink";
import { startMetricsSink, type MetricsSink } from "../../scripts/metrics-sink";
import { startNeonHttpServer, type NeonHttpServer } from "../../scripts/neon-http-server";
import { startUpstashRestServer, type UpstashRestServer } from "../../scripts/upstash-rest-server";

type Reply = { status: number; body: string };

/** One request to 127.0.0.1:port carrying exactly `headers`: Host is whatever the test says. */
function send(port: number, path: string, headers: Record<string, string>, init: { method?: string; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, path, method: init.method ?? "GET", headers, setHost: false, agent: false },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.once("error", reject);
    req.end(init.body);
  });
}

/** An HTTP/1.0 request, which may leave out Host altogether. */
function sendWithoutHost(port: number, path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    let reply = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (reply += chunk));
    socket.once("error", reject);
    socket.once("end", () => resolve(Number(/^HTTP\/1\.[01] (\d{3})/.exec(reply)?.[1] ?? 0)));
    const lines = Object.entries(headers)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join("");
    socket.write(`GET ${path} HTTP/1.0\r\n${lines}\r\n`);
  });
}

const sqlSecret = newLocalSecret();
const upstashToken = newLocalSecret();
const metricsFile = join(tmpdir(), `tenpo-local-http-${newLocalSecret()}.jsonl`);
let sql: NeonHttpServer;
let upstash: UpstashRestServer;
let mail: MailSink;
let metrics: MetricsSink;

beforeAll(async () => {
  [sql, upstash, mail, metrics] = await Promise.all([
    startNeonHttpServer({ port: 0, secret: sqlSecret }),
    startUpstashRestServer({ port: 0, token: upstashToken, redisUrl: "redis://127.0.0.1:9", log: () => {} }),
    startMailSink({ port: 0, apiKey: newLocalSecret() }),
    startMetricsSink({ port: 0, file: metricsFile }),
  ]);
});

afterAll(async () => {
  await Promise.all([sql?.close(), upstash?.close(), mail?.close(), metrics?.close()]);
  await rm(metricsFile, { force: true });
});

/** Each server with a request it answers 200 to when it comes from this machine. */
const servers: Array<{ name: string; port: () => number; path: string; headers: () => Record<string, string> }> = [
  { name: "the SQL-over-HTTP server", port: () => sql.port, path: "/__stats", headers: () => ({ Authorization: `Bearer ${sqlSecret}` }) },
  {
    name: "the Upstash REST server",
    port: () => upstash.port,
    path: "/__stats",
    headers: () => ({ Authorization: `Bearer ${upstashToken}` }),
  },
  { name: "the mail sink", port: () => mail.port, path: "/emails", headers: () => ({}) },
  { name: "the metrics sink", port: () => metrics.port, path: "/health", headers: () => ({}) },
];

describe.each(servers)("$name", ({ port, path, headers }) => {
  it.each(["127.0.0.1", "localhost", "[::1]", "tenpo.localhost"])("answers a request whose Host is %s, with its port", async (name) => {
    expect((await send(port(), path, { ...headers(), Host: `${name}:${port()}` })).status).toBe(200);
  });

  it.each(["evil.example", "evil.example:4444", "127.0.0.1.nip.io:4444", "evil.example@127.0.0.1", "0.0.0.0:4444", ""])(
    "refuses a foreign Host %j with 403: a DNS-rebinding page",
    async (host) => {
      const reply = await send(port(), path, { ...headers(), Host: host });
      expect(reply.status).toBe(403);
      expect(reply.body).toMatch(/is not this machine/);
    },
  );

  it("refuses a request without a Host with 403", async () => {
    expect(await sendWithoutHost(port(), path, headers())).toBe(403);
  });

  it.each(["https://evil.example", "null", "http://localhost.evil.example", "file://"])(
    "refuses a foreign Origin %j with 403, even from a loopback Host: a web page's fetch or form",
    async (origin) => {
      const reply = await send(port(), path, { ...headers(), Host: `127.0.0.1:${port()}`, Origin: origin });
      expect(reply.status).toBe(403);
      expect(reply.body).toMatch(/Origin .* is not this machine/);
    },
  );

  it("answers a page of this machine (a loopback Origin)", async () => {
    expect((await send(port(), path, { ...headers(), Host: `127.0.0.1:${port()}`, Origin: "http://localhost:3000" })).status).toBe(200);
  });
});

describe("the Upstash REST server's token", () => {
  const local = (): Record<string, string> => ({ Host: `127.0.0.1:${upstash.port}` });

  it("is not taken from the query string", async () => {
    const reply = await send(upstash.port, `/ping?_token=${upstashToken}`, local());
    expect(reply).toEqual({ status: 401, body: JSON.stringify({ error: "Unauthorized" }) });
  });

  it("is new for each server that is not given one", async () => {
    expect(newLocalSecret()).not.toBe(newLocalSecret());
    expect(newLocalSecret()).toMatch(/^[A-Za-z0-9_-]{32}$/);
  });
});

describe("the Upstash REST server's refusals of server commands", () => {
  const command = (body: unknown): Promise<Reply> =>
    send(
      upstash.port,
      "/",
      { Host: `127.0.0.1:${upstash.port}`, Authorization: `Bearer ${upstashToken}` },
      { method: "POST", body: JSON.stringify(body) },
    );

  it.each([
    ["FLUSHALL"],
    ["FLUSHDB", "ASYNC"],
    ["SWAPDB", "0", "1"],
    ["CONFIG", "SET", "dir", "/tmp"],
    ["SAVE"],
    ["BGSAVE"],
    ["BGREWRITEAOF"],
    ["MODULE", "LOAD", "/tmp/x.so"],
    ["DEBUG", "SEGFAULT"],
    ["SHUTDOWN", "NOSAVE"],
    ["REPLICAOF", "evil.example", "6379"],
    ["SLAVEOF", "evil.example", "6379"],
    ["FAILOVER"],
    ["MIGRATE", "evil.example", "6379", "k", "0", "1000"],
    ["ACL", "SETUSER", "x", "on"],
    ["FUNCTION", "FLUSH"],
    ["flushall"],
  ])("refuses %s before Redis sees it, saying why", async (...args) => {
    const reply = await command(args);
    expect(reply.status).toBe(400);
    expect((JSON.parse(reply.body) as { error: string }).error).toMatch(
      new RegExp(`^ERR Command is not allowed: ${args[0]!.toUpperCase()} \\(.+\\)$`),
    );
  });

  it("refuses them in a transaction and in a pipeline too", async () => {
    const headers = { Host: `127.0.0.1:${upstash.port}`, Authorization: `Bearer ${upstashToken}` };
    const tx = await send(upstash.port, "/multi-exec", headers, { method: "POST", body: JSON.stringify([["FLUSHALL"]]) });
    expect(tx.status).toBe(400);
    expect(tx.body).toMatch(/not allowed: FLUSHALL/);
    // A pipeline of refused commands only never reaches Redis either.
    const piped = await send(upstash.port, "/pipeline", headers, {
      method: "POST",
      body: JSON.stringify([["FLUSHDB"], ["CONFIG", "SET", "dir", "/"]]),
    });
    expect(JSON.parse(piped.body)).toEqual([
      { error: expect.stringMatching(/not allowed: FLUSHDB/) },
      { error: expect.stringMatching(/not allowed: CONFIG/) },
    ]);
  });

  it("still sends other commands on (here to a Redis that is down: 503)", async () => {
    expect((await command(["GET", "k"])).status).toBe(503);
  });
});
