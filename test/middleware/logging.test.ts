/**
 * Specification of the JSON log lines: one per request (src/middleware/observe-requests.ts, switched by
 * LOG_REQUESTS) and exactly one per failed request with the error's stack (server side only); the
 * queue's lines are test/queue/job-log.test.ts's. Console output is captured with spies; each test
 * file runs in its own isolate, so the lines seen here are this file's.
 */
import { env, createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { requestLogEnabled } from "../../src/observability/logging";
import { issueToken } from "../../src/lib/access-token";
import { apiWithEnv } from "../support/api";
import { captureConsole } from "../support/console";
import { CLOSED } from "../support/network";

// vitest.config.ts turns request lines off for the rest of the suite.
const ON = { LOG_REQUESTS: "true" };

type Line = Record<string, unknown> & { time: string; level: string; msg: string };
const output = captureConsole();

/** Every captured line, parsed: a line that is not one JSON object fails the test. */
function lines(): Line[] {
  return output.map(({ text }) => {
    expect(text).not.toContain("\n");
    const value: unknown = JSON.parse(text);
    expect(typeof value).toBe("object");
    return value as Line;
  });
}

const requestLines = (requestId: string) => lines().filter((l) => l.request_id === requestId);
const rid = () => `log-${crypto.randomUUID()}`;

describe("the request line", () => {
  it("is one JSON line with the request's fields", async () => {
    const id = rid();
    const res = await apiWithEnv(ON, "/health", { headers: { "X-Request-Id": id } });
    expect(res.status).toBe(200);
    const mine = requestLines(id);
    expect(mine).toHaveLength(1);
    const line = mine[0]!;
    expect(line).toMatchObject({
      level: "info",
      msg: "request",
      request_id: id,
      method: "GET",
      route: "/health",
      path: "/health",
      status: 200,
      cache_status: "NONE",
      db_round_trips: 0,
    });
    expect(typeof line.duration_ms).toBe("number");
    expect(new Date(line.time).toISOString()).toBe(line.time);
    expect(line).not.toHaveProperty("user_id");
    expect(output.find((o) => o.text.includes(id))!.stream).toBe("log");
  });

  it("carries the route pattern, the raw path and the database round trips", async () => {
    const id = rid();
    await apiWithEnv(ON, "/api/v1/products/3", { headers: { "X-Request-Id": id } });
    const [line] = requestLines(id);
    expect(line).toMatchObject({ route: "/api/v1/products/:id", path: "/api/v1/products/3" });
    expect(typeof line!.db_round_trips).toBe("number");
    expect(typeof line!.cache_status).toBe("string");
  });

  it("names the user when the request is authenticated", async () => {
    const id = rid();
    const token = await issueToken({ id: 424242, isAdmin: false, tokenVersion: 0 }, env.JWT_SECRET);
    await apiWithEnv(ON, "/api/v1/auth/me", { headers: { "X-Request-Id": id, Authorization: `Bearer ${token}` } });
    const [line] = requestLines(id);
    expect(line).toMatchObject({ route: "/api/v1/auth/me", user_id: 424242 });
  });

  it("logs a 4xx once, at info, without a stack", async () => {
    const id = rid();
    const res = await apiWithEnv(ON, "/api/v1/nothing-here", { headers: { "X-Request-Id": id } });
    expect(res.status).toBe(404);
    const mine = requestLines(id);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ level: "info", status: 404, route: "unmatched", path: "/api/v1/nothing-here" });
    expect(mine[0]).not.toHaveProperty("stack");
  });

  it("is off when LOG_REQUESTS is false", async () => {
    const id = rid();
    const res = await apiWithEnv({ LOG_REQUESTS: "false" }, "/health", { headers: { "X-Request-Id": id } });
    expect(res.status).toBe(200);
    expect(requestLines(id)).toHaveLength(0);
  });

  it("reads LOG_REQUESTS as on unless it says false", () => {
    expect(requestLogEnabled({})).toBe(true);
    expect(requestLogEnabled({ LOG_REQUESTS: "true" })).toBe(true);
    expect(requestLogEnabled({ LOG_REQUESTS: "" })).toBe(true);
    expect(requestLogEnabled({ LOG_REQUESTS: "false" })).toBe(false);
    expect(requestLogEnabled({ LOG_REQUESTS: " FALSE " })).toBe(false);
    expect(requestLogEnabled({ LOG_REQUESTS: "0" })).toBe(false);
  });
});

describe("a failed request", () => {
  const failingLogin = (id: string, overrides: Partial<Env> = {}) =>
    apiWithEnv({ ...ON, NEON_HTTP_ENDPOINT: `${CLOSED}/sql`, ...overrides }, "/api/v1/auth/login", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Request-Id": id, "CF-Connecting-IP": "2001:db8:77::1" },
      body: JSON.stringify({ username: `nobody-${crypto.randomUUID()}@example.com`, password: "password123" }),
    });

  it("is logged exactly once, as an error with its stack, which the response never shows", async () => {
    const id = rid();
    const res = await failingLogin(id);
    // The database is down: 503 service_unavailable (src/db/resilience.ts), a 5xx like any other here.
    expect(res.status).toBe(503);
    const body = await res.text();
    const mine = requestLines(id);
    expect(mine).toHaveLength(1);
    const line = mine[0]!;
    expect(line).toMatchObject({
      level: "error",
      msg: "request failed",
      status: 503,
      route: "/api/v1/auth/login",
      method: "POST",
      degraded: "db",
    });
    expect(typeof line.error).toBe("string");
    expect(line.stack).toEqual(expect.stringContaining("at "));
    expect(output.find((o) => o.text.includes(id))!.stream).toBe("error");
    expect(body).not.toContain("at ");
    expect(body).not.toContain(String(line.error));
  });

  it("is logged even when LOG_REQUESTS is false", async () => {
    const id = rid();
    const res = await failingLogin(id, { LOG_REQUESTS: "false" });
    expect(res.status).toBe(503);
    expect(requestLines(id)).toHaveLength(1);
    expect(requestLines(id)[0]).toHaveProperty("stack");
  });

  it("leaves no other line behind: every line of a failing request is one JSON object", async () => {
    const app = createApp({
      extraRoutes: (routes) =>
        routes.get("/explode", () => {
          throw new TypeError("cannot read the thing");
        }),
    });
    const ctx = createExecutionContext();
    const res = await app.fetch(new Request("http://tenpo.localhost/explode"), { ...env, ...ON }, ctx);
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(500);
    const all = lines();
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ level: "error", route: "/explode", error: "cannot read the thing" });
  });
});
