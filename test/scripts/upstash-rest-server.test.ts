/**
 * Specification of scripts/upstash-rest-server.ts, driven from inside workerd by the real @upstash/redis
 * client (as the Worker uses it), plus plain fetch for the raw protocol. Other test files share the server
 * and the Redis behind it in parallel: keys live under a unique prefix, counters are compared as lower
 * bounds, faults are scoped to our prefix, and /__stats/reset is left alone (it would skew other files).
 */
import { env } from "cloudflare:test";
import { errors, Redis } from "@upstash/redis/cloudflare";
import { afterAll, describe, expect, it } from "vitest";

const prefix = `test:upstash:${crypto.randomUUID()}:`;
const key = (name: string): string => `${prefix}${name}`;
const url = env.UPSTASH_REDIS_REST_URL;
const token = env.UPSTASH_REDIS_REST_TOKEN;
const redis = new Redis({ url, token, enableTelemetry: false });
const auth = { Authorization: `Bearer ${token}` };

interface Entry {
  result?: unknown;
  error?: string;
}

/** A raw request; `base64` adds the header the client sends by default. */
async function raw(path: string, init: { method?: string; body?: unknown; base64?: boolean; headers?: Record<string, string> } = {}) {
  const headers = { ...auth, ...(init.base64 ? { "Upstash-Encoding": "base64" } : {}), ...init.headers };
  const body =
    init.body === undefined || typeof init.body === "string" || init.body instanceof Uint8Array ? init.body : JSON.stringify(init.body);
  const res = await fetch(`${url}${path}`, { method: init.method ?? (body === undefined ? "GET" : "POST"), headers, body });
  return { status: res.status, body: (await res.json()) as unknown };
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  const err: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(errors.UpstashError);
  return err as Error;
}

const b64 = (text: string): string => btoa(String.fromCharCode(...new TextEncoder().encode(text)));

afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
});

describe("single commands through the real client", () => {
  it("sets and gets a string", async () => {
    expect(await redis.set(key("greeting"), "hello")).toBe("OK");
    expect(await redis.get(key("greeting"))).toBe("hello");
  });

  it("answers null for a missing key, with `result` present", async () => {
    expect(await redis.get(key("missing"))).toBeNull();
    expect(await raw("/", { body: ["GET", key("missing")], base64: true })).toEqual({ status: 200, body: { result: null } });
  });

  it("round-trips binary-unsafe strings with base64 encoding", async () => {
    const tricky = 'héllo ✓ 🎉 \u0000 "quoted" \\ back\nslash \u0007';
    await redis.set(key("tricky"), tricky);
    expect(await redis.get(key("tricky"))).toBe(tricky);
    expect((await raw("/", { body: ["GET", key("tricky")], base64: true })).body).toEqual({ result: b64(tricky) });
  });

  it("keeps raw bytes intact: a POSTed path-form value comes back as the base64 of the same bytes", async () => {
    const bytes = new Uint8Array([0xff, 0xfe, 0x00, 0x01, 0x80]);
    expect((await raw(`/set/${encodeURIComponent(key("bytes"))}`, { body: bytes })).body).toEqual({ result: "OK" });
    expect((await raw(`/get/${encodeURIComponent(key("bytes"))}`, { base64: true })).body).toEqual({ result: "//4AAYA=" });
  });

  it("returns integers as JSON numbers", async () => {
    expect(await redis.incr(key("counter"))).toBe(1);
    expect(await redis.incrby(key("counter"), 41)).toBe(42);
    expect((await raw("/", { body: ["INCR", key("counter")], base64: true })).body).toEqual({ result: 43 });
    expect(await redis.ttl(key("counter"))).toBe(-1);
  });

  it("stores JSON values, which the client serialises and parses", async () => {
    const cart = { sku: "TEA-01", qty: 2, tags: ["green", "loose"], gift: null };
    await redis.set(key("cart"), cart, { ex: 60 });
    expect(await redis.get(key("cart"))).toEqual(cart);
  });

  it("returns hashes as flat arrays on the wire, which the client turns into objects", async () => {
    await redis.hset(key("hash"), { name: "Sencha", stock: 12 });
    expect(await redis.hgetall(key("hash"))).toEqual({ name: "Sencha", stock: 12 });
    const wire = await raw("/", { body: ["HGETALL", key("hash")] });
    expect(wire.body).toEqual({ result: ["name", "Sencha", "stock", "12"] });
  });

  it("returns lists and nested arrays", async () => {
    expect(await redis.rpush(key("list"), "a", "b", "c")).toBe(3);
    expect(await redis.lrange(key("list"), 0, -1)).toEqual(["a", "b", "c"]);
    await redis.zadd(key("zset"), { score: 1, member: "one" }, { score: 2, member: "two" });
    expect(await redis.zrange(key("zset"), 0, -1, { withScores: true })).toEqual(["one", 1, "two", 2]);
    const scan = await raw("/", { body: ["SCAN", "0", "MATCH", key("list"), "COUNT", "1000"] });
    expect(scan.body).toEqual({ result: [expect.any(String), expect.any(Array)] });
  });

  it('sends plain strings without the encoding header, and "OK" unencoded with it', async () => {
    const plain = new Redis({ url, token, responseEncoding: false, enableTelemetry: false });
    await plain.set(key("plain"), "ünïcode");
    expect(await plain.get(key("plain"))).toBe("ünïcode");
    expect((await raw("/", { body: ["GET", key("plain")] })).body).toEqual({ result: "ünïcode" });
    expect((await raw("/", { body: ["SET", key("plain"), "x"], base64: true })).body).toEqual({ result: "OK" });
    expect((await raw("/", { body: ["PING"], base64: true })).body).toEqual({ result: b64("PONG") });
    // Only a whole result may be a bare "OK": inside arrays the client would base64-decode it.
    await redis.mset({ [key("ok1")]: "OK", [key("ok2")]: "fine" });
    expect(await redis.mget(key("ok1"), key("ok2"))).toEqual(["OK", "fine"]);
  });

  it("answers a Redis error with 400 and the Redis message", async () => {
    await redis.set(key("not-a-number"), "abc");
    const wire = await raw("/", { body: ["INCR", key("not-a-number")] });
    expect(wire).toEqual({ status: 400, body: { error: "ERR value is not an integer or out of range" } });
    expect((await rejection(redis.incr(key("not-a-number")))).message).toContain("ERR value is not an integer");
  });

  it("accepts the path form with URL-decoded segments and query pairs appended", async () => {
    expect((await raw(`/set/${encodeURIComponent(key("path"))}/a%2Fb%20c?EX=100`)).body).toEqual({ result: "OK" });
    expect((await raw(`/get/${encodeURIComponent(key("path"))}`)).body).toEqual({ result: "a/b c" });
    expect((await raw(`/ttl/${encodeURIComponent(key("path"))}`)).body).toEqual({ result: 100 });
  });
});

describe("pipelines and transactions", () => {
  it("runs a pipeline and returns the results in order", async () => {
    const p = redis.pipeline();
    p.set(key("p1"), "v1").incr(key("p2")).get(key("p1")).get(key("p-missing"));
    expect(await p.exec()).toEqual(["OK", 1, "v1", null]);
  });

  it("reports an error inside a pipeline on that command only", async () => {
    const wire = await raw("/pipeline", {
      body: [
        ["SET", key("pe"), "text"],
        ["INCR", key("pe")],
        ["GET", key("pe")],
      ],
      base64: true,
    });
    expect(wire).toEqual({
      status: 200,
      body: [{ result: "OK" }, { error: "ERR value is not an integer or out of range" }, { result: b64("text") }],
    });
    const p = redis.pipeline();
    p.incr(key("pe")).get(key("pe"));
    expect(await p.exec({ keepErrors: true })).toEqual([
      { error: "ERR value is not an integer or out of range", result: undefined },
      { error: undefined, result: "text" },
    ]);
    await expect(redis.pipeline().incr(key("pe")).exec()).rejects.toThrow(/Command 1 \[ incr \] failed/);
  });

  it("runs multi-exec atomically, with runtime errors per command", async () => {
    const tx = redis.multi();
    tx.set(key("tx"), "5").incr(key("tx")).incr(key("tx"));
    expect(await tx.exec()).toEqual(["OK", 6, 7]);
    const wire = await raw("/multi-exec", {
      body: [
        ["SET", key("tx2"), "a"],
        ["INCR", key("tx2")],
        ["APPEND", key("tx2"), "b"],
      ],
    });
    expect(wire.body).toEqual([{ result: "OK" }, { error: "ERR value is not an integer or out of range" }, { result: 2 }]);
  });

  it("discards a whole transaction when a command cannot be queued", async () => {
    const wire = await raw("/multi-exec", { body: [["SET", key("tx3"), "a"], ["NO-SUCH-COMMAND"]] });
    expect(wire).toEqual({ status: 400, body: { error: expect.stringMatching(/^EXECABORT/) } });
    expect(await redis.exists(key("tx3"))).toBe(0);
  });

  it("batches concurrent commands into one request with auto-pipelining", async () => {
    const auto = new Redis({ url, token, enableAutoPipelining: true, enableTelemetry: false });
    await auto.mset({ [key("a1")]: "x", [key("a2")]: 2 });
    // The auto-pipelining proxy counts the pipelines it sent; the property exists but is not in the types.
    const sent = (): number => (auto as unknown as { pipelineCounter: number }).pipelineCounter;
    const before = sent();
    const results = await Promise.all([auto.get(key("a1")), auto.get(key("a2")), auto.exists(key("a1")), auto.get(key("a-none"))]);
    expect(results).toEqual(["x", 2, 1, null]);
    expect(sent() - before).toBe(1);
  });
});

describe("Lua scripts with Upstash-only flags (@upstash/ratelimit >= 2.1 sends `allow-key-locking`)", () => {
  const script = `#!lua flags=allow-key-locking\nreturn redis.call("INCRBY", KEYS[1], ARGV[1])`;
  const sha1 = async (text: string): Promise<string> =>
    Array.from(new Uint8Array(await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text))), (b) =>
      b.toString(16).padStart(2, "0"),
    ).join("");

  it("runs them with EVAL, as Upstash does, although Redis does not know the flag", async () => {
    expect(await redis.eval(script, [key("flagged")], [2])).toBe(2);
  });

  it("runs them by the SHA1 of the script as sent, once sent, also in a pipeline", async () => {
    await redis.eval(script, [key("flagged-sha")], [1]);
    expect(await redis.evalsha(await sha1(script), [key("flagged-sha")], [1])).toBe(2);
    const p = redis.pipeline();
    p.evalsha(await sha1(script), [key("flagged-sha")], [1]);
    expect(await p.exec()).toEqual([3]);
  });

  it("answers SCRIPT LOAD with the SHA1 of the script as sent", async () => {
    expect(await redis.scriptLoad(script)).toBe(await sha1(script));
  });

  it("keeps the flags Redis knows and still refuses unknown ones", async () => {
    expect(await redis.eval(`#!lua flags=no-writes,allow-key-locking\nreturn 7`, [], [])).toBe(7);
    expect((await rejection(redis.eval(`#!lua flags=no-such-flag\nreturn 7`, [], []))).message).toContain("Unexpected flag");
  });
});

describe("what the server refuses", () => {
  it("answers 401 Unauthorized to a wrong or missing token", async () => {
    const stranger = new Redis({ url, token: "not-the-token", retry: false, enableTelemetry: false });
    expect((await rejection(stranger.get(key("x")))).message).toContain("Unauthorized");
    const res = await fetch(url, { method: "POST", body: JSON.stringify(["PING"]) });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: "Unauthorized" });
  });

  it("takes the token from the Authorization header only, never from the query string", async () => {
    for (const path of [`/ping?_token=${token}`, `/get/${encodeURIComponent(key("q"))}?_token=${token}`]) {
      const res = await fetch(`${url}${path}`);
      expect(res.status, path).toBe(401);
      expect(await res.json()).toEqual({ error: "Unauthorized" });
    }
  });

  it("answers 403 to a web page's request (a foreign Origin), token or not", async () => {
    for (const origin of ["https://evil.example", "null"]) {
      const wire = await raw("/", { body: ["PING"], headers: { Origin: origin } });
      expect(wire.status, origin).toBe(403);
      expect((wire.body as Entry).error).toMatch(/Origin .* is not this machine/);
    }
    expect((await raw("/", { body: ["PING"], headers: { Origin: "http://127.0.0.1:5173" } })).body).toEqual({ result: "PONG" });
  });

  // Only forms that would do no harm if the refusal failed: the shared Redis must never be flushed or
  // reconfigured by a test (test/scripts/local-servers.node.test.ts sends the harmful forms to a server
  // with no Redis behind it).
  it.each([
    ["CONFIG", "GET", "maxmemory"],
    ["MODULE", "LIST"],
    ["DEBUG", "HELP"],
    ["ACL", "WHOAMI"],
    ["FUNCTION", "LIST"],
    ["config", "get", "dir"],
  ])("refuses the server command %s with the reason", async (...command) => {
    const wire = await raw("/", { body: command });
    expect(wire.status).toBe(400);
    expect((wire.body as Entry).error).toMatch(new RegExp(`^ERR Command is not allowed: ${command[0]!.toUpperCase()} \\(.+\\)$`));
  });

  it("refuses a server command inside a pipeline alone, and a whole transaction that holds one", async () => {
    const piped = await raw("/pipeline", { body: [["PING"], ["CONFIG", "GET", "maxmemory"], ["PING"]] });
    expect(piped.body).toEqual([{ result: "PONG" }, { error: expect.stringMatching(/not allowed: CONFIG/) }, { result: "PONG" }]);
    const tx = await raw("/multi-exec", {
      body: [
        ["SET", key("tx-config"), "a"],
        ["CONFIG", "GET", "maxmemory"],
      ],
    });
    expect(tx).toEqual({ status: 400, body: { error: expect.stringMatching(/not allowed: CONFIG/) } });
    expect(await redis.exists(key("tx-config"))).toBe(0);
  });

  it.each([
    ["BLPOP", key("l"), "0"],
    ["SUBSCRIBE", "news"],
    ["SELECT", "1"],
    ["XREAD", "BLOCK", "0", "STREAMS", key("s"), "$"],
  ])("refuses the blocking or connection-state command %s", async (...command) => {
    const wire = await raw("/", { body: command });
    expect(wire.status).toBe(400);
    expect((wire.body as Entry).error).toMatch(/^ERR Command is not allowed: \w+/);
  });

  it("refuses a blocking command inside a pipeline without failing its neighbours", async () => {
    const wire = await raw("/pipeline", { body: [["PING"], ["BRPOP", key("l"), "1"], ["PING"]] });
    const [first, refused, last] = wire.body as Entry[];
    expect([first, last]).toEqual([{ result: "PONG" }, { result: "PONG" }]);
    expect(refused?.error).toMatch(/not allowed: BRPOP/);
  });

  it.each([
    ["bad JSON", "/", "{not json"],
    ["a non-array body", "/", { command: "GET" }],
    ["an empty command", "/", []],
    ["an object argument", "/", ["SET", "k", { a: 1 }]],
    ["an empty pipeline", "/pipeline", []],
  ])("answers 400 with a JSON error to %s", async (_name, path, body) => {
    const wire = await raw(path, { body });
    expect(wire.status).toBe(400);
    expect((wire.body as Entry).error).toMatch(/^ERR /);
  });

  it("answers 405 to an unsupported method", async () => {
    expect((await raw("/get/x", { method: "DELETE" })).status).toBe(405);
    expect((await raw("/pipeline")).status).toBe(405);
  });
});

describe("test hooks", () => {
  it("counts requests and commands at /__stats", async () => {
    const before = (await raw("/__stats")).body as { requests: number; commands: number };
    await raw("/pipeline", { body: [["PING"], ["PING"], ["PING"]] });
    const after = (await raw("/__stats")).body as { requests: number; commands: number };
    expect(after.requests - before.requests).toBeGreaterThanOrEqual(1);
    expect(after.commands - before.commands).toBeGreaterThanOrEqual(3);
  });

  it("guards the hooks with the same token", async () => {
    const res = await fetch(`${url}/__stats`);
    expect(res.status).toBe(401);
    await res.body?.cancel();
  });

  it("injects delays and failures for requests touching a key prefix, until cleared", async () => {
    const scope = key("faulty:");
    expect((await raw("/__faults", { method: "POST", body: { delayMs: 150, failStatus: 503, keyPrefix: scope } })).status).toBe(200);
    try {
      const started = Date.now();
      const hit = await raw("/", { body: ["GET", `${scope}x`] });
      expect(hit).toEqual({ status: 503, body: { error: "Injected fault: HTTP 503" } });
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
      expect((await raw("/", { body: ["GET", key("healthy")] })).status).toBe(200);
    } finally {
      // Only this scope: other files may have faults of their own on this server right now.
      expect((await raw(`/__faults?keyPrefix=${encodeURIComponent(scope)}`, { method: "DELETE" })).body).toEqual({});
    }
    expect((await raw("/", { body: ["GET", `${scope}x`] })).status).toBe(200);
  });

  it("keeps one fault per key prefix: setting or clearing one leaves the others", async () => {
    const [a, b] = [key("faulty-a:"), key("faulty-b:")];
    const clear = (prefix: string) => raw(`/__faults?keyPrefix=${encodeURIComponent(prefix)}`, { method: "DELETE" });
    try {
      await raw("/__faults", { method: "POST", body: { failStatus: 503, keyPrefix: a } });
      await raw("/__faults", { method: "POST", body: { failStatus: 502, keyPrefix: b } });
      expect((await raw("/", { body: ["GET", `${a}x`] })).status).toBe(503);
      expect((await raw("/", { body: ["GET", `${b}x`] })).status).toBe(502);
      await clear(a);
      expect((await raw("/", { body: ["GET", `${a}x`] })).status).toBe(200);
      expect((await raw("/", { body: ["GET", `${b}x`] })).status).toBe(502);
    } finally {
      await clear(a);
      await clear(b);
    }
  });

  it("rejects malformed faults", async () => {
    for (const body of [{ failStatus: 200 }, { delayMs: -1 }, { keyPrefix: "" }, [1]]) {
      expect((await raw("/__faults", { method: "POST", body })).status).toBe(400);
    }
  });
});
