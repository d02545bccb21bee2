import { describe, expect, it } from "vitest";
import { api, apiWithEnv, type ErrorBody } from "../support/api";
import { CLOSED } from "../support/network";

describe("GET /health", () => {
  it("answers ok while the worker runs", async () => {
    const res = await api("/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });
});

describe("GET /health/ready", () => {
  it("is ready when the database and the cache answer", async () => {
    const res = await api("/health/ready");
    expect(res.status).toBe(200);
    const body = (await res.json()) as { status: string; checks: Record<string, { status: string }> };
    expect(body.status).toBe("ok");
    expect(body.checks.database?.status).toBe("ok");
    expect(body.checks.cache?.status).toBe("ok");
  });

  it("checks Redis through the Upstash client when Redis is the cache", async () => {
    const res = await apiWithEnv({ CACHE_BACKEND: "upstash" }, "/health/ready");
    expect(res.status).toBe(200);
    const body = (await res.json()) as { checks: Record<string, { status: string; backend?: string }> };
    expect(body.checks.cache).toEqual({ status: "ok", backend: "upstash" });
  });

  it("answers 503 naming the database when the database is down", async () => {
    const res = await apiWithEnv({ NEON_HTTP_ENDPOINT: `${CLOSED}/sql` }, "/health/ready");
    expect(res.status).toBe(503);
    expect(res.headers.get("Retry-After")).toBe("5");
    const body = (await res.json()) as { status: string; checks: Record<string, { status: string; error?: string }> };
    expect(body.status).toBe("unavailable");
    expect(body.checks.database).toEqual({ status: "error", error: "database is not answering" });
    expect(body.checks.cache?.status).toBe("ok");
  });

  it("answers 503 naming the cache when Redis is down", async () => {
    const res = await apiWithEnv({ CACHE_BACKEND: "upstash", UPSTASH_REDIS_REST_URL: CLOSED }, "/health/ready");
    expect(res.status).toBe(503);
    const body = (await res.json()) as { checks: Record<string, { status: string; error?: string }> };
    expect(body.checks.database?.status).toBe("ok");
    expect(body.checks.cache?.status).toBe("error");
    expect(JSON.stringify(body)).not.toMatch(/127\.0\.0\.1|ECONNREFUSED/);
  });
});

describe("conventions every response follows", () => {
  it("answers an unknown route with a 404 in the error shape", async () => {
    const res = await api("/api/v1/nothing-here");
    expect(res.status).toBe(404);
    const body = (await res.json()) as ErrorBody;
    expect(body.error.code).toBe("not_found");
    expect(body.error.message).toContain("/api/v1/nothing-here");
  });

  it("echoes a sane X-Request-Id", async () => {
    const res = await api("/health", { headers: { "X-Request-Id": "abc.DEF_123-x" } });
    expect(res.headers.get("X-Request-Id")).toBe("abc.DEF_123-x");
  });

  it.each([["has space"], ["a=b"], ["x".repeat(129)], ["<script>"]])("replaces an X-Request-Id like %j", async (sent) => {
    const res = await api("/health", { headers: { "X-Request-Id": sent } });
    const id = res.headers.get("X-Request-Id");
    expect(id).not.toBe(sent);
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("gives errors a request id too", async () => {
    const res = await api("/nope", { headers: { "X-Request-Id": "trace-1" } });
    expect(res.status).toBe(404);
    expect(res.headers.get("X-Request-Id")).toBe("trace-1");
  });

  it("refuses a body over 64 KiB with 413", async () => {
    const res = await api("/api/v1/products", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: "x".repeat(65_537) }),
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as ErrorBody).error.code).toBe("payload_too_large");
  });

  it("sets security headers", async () => {
    const res = await api("/health");
    expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
    expect(res.headers.get("Strict-Transport-Security")).toBeTruthy();
  });
});
