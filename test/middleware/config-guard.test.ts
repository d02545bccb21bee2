import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { app } from "../../src/app";
import { serveHotRead } from "../../src/cache/hot-reads";
import { insertProduct } from "../support/catalog";
import { api, type ErrorBody } from "../support/api";

// The settings guard (src/middleware/config-guard.ts): development settings are served to this
// machine only, and staging and production are refused without HTTPS endpoints wherever they run.

/** A host that is not this machine, as a deployed Worker sees its requests. */
const FOREIGN = "https://shop.tenpo.example";

/** Settings a deployment may serve the internet with: every rule passes. */
const DEPLOYED: Partial<Env> = {
  ENVIRONMENT: "production",
  JWT_SECRET: "a-real-secret-of-forty-characters-000000",
  NEON_HTTP_ENDPOINT: "",
  DATABASE_URL: "postgres://tenpo:pw@ep-quiet-sea-123456.eu-central-1.aws.neon.tech/tenpo?sslmode=require",
  UPSTASH_REDIS_REST_URL: "https://eu1-tenpo.upstash.io",
  THROTTLE_REDIS_REST_URL: "https://eu1-tenpo-throttle.upstash.io",
  CORS_ORIGINS: "https://shop.tenpo.example",
  STRIPE_API_BASE: "",
  STRIPE_SECRET_KEY: "sk_live_a-deployment-s-own-key",
  STRIPE_WEBHOOK_SECRET: "whsec_a-deployment-s-own-secret",
};

/** A request through the app at `origin` with the test bindings plus `overrides`. */
async function served(origin: string, overrides: Partial<Env>, path = "/health"): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(origin + path), { ...env, ...overrides }, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

/** The guard's log lines since the spy was set. */
function refusalLogs(spy: ReturnType<typeof vi.spyOn>): Array<{ host: string; refusals: string[] }> {
  return spy.mock.calls
    .map((args: unknown[]) => String(args[0]))
    .filter((line: string) => line.includes("refusing to serve"))
    .map((line: string) => JSON.parse(line) as { host: string; refusals: string[] });
}

async function expectRefused(res: Response): Promise<void> {
  expect(res.status).toBe(503);
  expect(res.headers.get("Retry-After")).toBe("60");
  const body = (await res.json()) as ErrorBody;
  expect(body.error).toEqual({ code: "service_unavailable", message: "The service is not configured" });
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("on this machine", () => {
  it.each(["http://localhost:8787", "http://127.0.0.1:8787", "http://[::1]:8787", "http://tenpo.localhost"])(
    "serves %s with the development settings",
    async (origin) => {
      expect((await served(origin, {})).status).toBe(200);
    },
  );
});

describe("off this machine", () => {
  it("refuses the test settings with 503 service_unavailable, through the Worker entry, on every path", async () => {
    const spy = vi.spyOn(console, "error").mockImplementation(() => {});
    for (const path of ["/health", "/api/v1/products", "/docs", "/api/v1/auth/login"]) {
      await expectRefused(await exports.default.fetch(new Request(FOREIGN + path)));
    }
    // One line for the isolate's settings, however many requests: every development setting named.
    const lines = refusalLogs(spy);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.refusals.map((r) => r.split(":")[0])).toEqual([
      "ENVIRONMENT",
      "JWT_SECRET",
      "NEON_HTTP_ENDPOINT",
      "DATABASE_URL",
      "UPSTASH_REDIS_REST_URL",
      "THROTTLE_REDIS_REST_URL",
      "STRIPE_API_BASE",
      "CORS_ORIGINS",
    ]);
  });

  it("refuses even a catalog read this isolate could answer from memory", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const id = await insertProduct({ name: "guarded", price: "1.00", stock: 5 });
    const path = `/api/v1/products/${id}`;
    await api(path);
    await api(path);
    // The hot path alone would answer it; the entry asks the guard first.
    const ctx = createExecutionContext();
    expect(serveHotRead(new Request(FOREIGN + path), env, ctx)?.status).toBe(200);
    await waitOnExecutionContext(ctx);
    await expectRefused(await exports.default.fetch(new Request(FOREIGN + path)));
  });

  it("serves once every setting is a deployed one", async () => {
    expect((await served(FOREIGN, DEPLOYED)).status).toBe(200);
  });

  it.each<[string, Partial<Env>]>([
    ["ENVIRONMENT", { ENVIRONMENT: "development" }],
    ["ENVIRONMENT", { ENVIRONMENT: "test" }],
    ["JWT_SECRET", { JWT_SECRET: "tenpo-dev-secret" }],
    ["JWT_SECRET", { JWT_SECRET: "short-but-not-published" }],
    ["NEON_HTTP_ENDPOINT", { NEON_HTTP_ENDPOINT: "http://127.0.0.1:4444/sql" }],
    ["NEON_HTTP_ENDPOINT", { NEON_HTTP_ENDPOINT: "https://sql-proxy.tenpo.example/sql" }],
    ["DATABASE_URL", { DATABASE_URL: "postgres://postgres@127.0.0.1:5432/tenpo" }],
    ["DATABASE_URL", { DATABASE_URL: "postgres://postgres@db.internal/tenpo?host=/var/run/postgresql" }],
    ["UPSTASH_REDIS_REST_URL", { UPSTASH_REDIS_REST_URL: "http://eu1-tenpo.upstash.io" }],
    ["THROTTLE_REDIS_REST_URL", { THROTTLE_REDIS_REST_URL: "http://eu1-tenpo-throttle.upstash.io" }],
    ["STRIPE_API_BASE", { STRIPE_API_BASE: "https://stripe-proxy.tenpo.example" }],
    ["CORS_ORIGINS", { CORS_ORIGINS: "*" }],
    ["CORS_ORIGINS", { CORS_ORIGINS: "https://shop.tenpo.example, *" }],
  ])("refuses the development setting %s (%o) and logs why", async (setting, override) => {
    const spy = vi.spyOn(console, "error").mockImplementation(() => {});
    await expectRefused(await served(FOREIGN, { ...DEPLOYED, ...override }));
    const [line] = refusalLogs(spy);
    expect(line?.host).toBe("shop.tenpo.example");
    expect(line?.refusals).toHaveLength(1);
    expect(line?.refusals[0]).toMatch(new RegExp(`^${setting}: `));
  });

  it("logs a refusal once per isolate, not once per request", async () => {
    const spy = vi.spyOn(console, "error").mockImplementation(() => {});
    const settings = { ...env, ...DEPLOYED, JWT_SECRET: "change-me", CORS_ORIGINS: "*" };
    for (let i = 0; i < 3; i++) {
      const ctx = createExecutionContext();
      await expectRefused(await app.fetch(new Request(`${FOREIGN}/health`), settings, ctx));
      await waitOnExecutionContext(ctx);
    }
    const lines = refusalLogs(spy);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.refusals.map((r) => r.split(":")[0])).toEqual(["JWT_SECRET", "CORS_ORIGINS"]);
  });
});

describe("staging and production, wherever they run", () => {
  it("serve this machine with HTTPS endpoints, a local HTTPS SQL endpoint included", async () => {
    expect((await served("http://localhost:8787", DEPLOYED)).status).toBe(200);
    expect((await served("http://localhost:8787", { ...DEPLOYED, NEON_HTTP_ENDPOINT: "https://127.0.0.1:4444/sql" })).status).toBe(200);
  });

  it.each<[string, Partial<Env>]>([
    ["JWT_SECRET", { JWT_SECRET: "tenpo-test-secret" }],
    ["JWT_SECRET", { ENVIRONMENT: "staging", JWT_SECRET: "" }],
    ["NEON_HTTP_ENDPOINT", { NEON_HTTP_ENDPOINT: "http://127.0.0.1:4444/sql" }],
    ["UPSTASH_REDIS_REST_URL", { UPSTASH_REDIS_REST_URL: "http://127.0.0.1:8079" }],
    ["UPSTASH_REDIS_REST_URL", { ENVIRONMENT: "staging", UPSTASH_REDIS_REST_URL: "not a url" }],
    ["THROTTLE_REDIS_REST_URL", { THROTTLE_REDIS_REST_URL: "http://127.0.0.1:8078" }],
    ["THROTTLE_REDIS_REST_URL", { ENVIRONMENT: "staging", THROTTLE_REDIS_REST_URL: "" }],
    ["STRIPE_API_BASE", { STRIPE_API_BASE: "http://127.0.0.1:12111" }],
    ["STRIPE_SECRET_KEY", { STRIPE_SECRET_KEY: "" }],
    ["STRIPE_SECRET_KEY", { ENVIRONMENT: "staging", STRIPE_SECRET_KEY: "pk_test_a-publishable-key" }],
    ["STRIPE_WEBHOOK_SECRET", { STRIPE_WEBHOOK_SECRET: "" }],
    ["STRIPE_WEBHOOK_SECRET", { ENVIRONMENT: "staging", STRIPE_WEBHOOK_SECRET: "not-a-signing-secret" }],
  ])("refuse %s (%o) even on this machine", async (setting, override) => {
    const spy = vi.spyOn(console, "error").mockImplementation(() => {});
    await expectRefused(await served("http://localhost:8787", { ...DEPLOYED, ...override }));
    expect(refusalLogs(spy)[0]?.refusals.map((r) => r.split(":")[0])).toEqual([setting]);
  });
});
