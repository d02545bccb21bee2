import { describe, expect, it } from "vitest";
import { api, apiWithEnv, type ErrorBody } from "../support/api";
import { VALID_REQUESTS, listOperations, makeFixtures, requiresToken, toRequest } from "../support/operations";

// The contract's conventions that belong to no one resource (docs/api.md, "Conventions").

function expectErrorShape(body: unknown) {
  expect(body).toEqual({
    error: expect.objectContaining({ code: expect.any(String), message: expect.any(String) }),
  });
  const keys = Object.keys((body as ErrorBody).error);
  expect(
    keys.every((key) => ["code", "message", "details"].includes(key)),
    keys.join(),
  ).toBe(true);
}

describe("errors", () => {
  it("answers a server failure with a bare 500: no stack trace, no SQL, no connection string", async () => {
    // A database that does not exist: the catalog query fails inside the driver.
    const missingDatabase = "postgres://postgres@127.0.0.1:5432/does_not_exist_db";
    const res = await apiWithEnv({ DATABASE_URL: missingDatabase }, "/api/v1/products", {
      headers: { "X-Request-Id": "trace-500" },
    });
    expect(res.status).toBe(500);
    expect(res.headers.get("X-Request-Id")).toBe("trace-500");
    const text = await res.text();
    expectErrorShape(JSON.parse(text));
    expect((JSON.parse(text) as ErrorBody).error.code).toBe("internal_error");
    expect(text).not.toMatch(/does_not_exist_db|postgres:|127\.0\.0\.1/);
    expect(text).not.toMatch(/\bselect\b|\bfrom\b|"products"|Failed query|params:/i);
    expect(text).not.toMatch(/\n\s+at |\.ts:\d+|\.js:\d+|stack/);
  });

  it.each([
    ["an unknown route", "/api/v1/nope", {}],
    ["an unknown route outside the API", "/nope", {}],
    ["malformed JSON", "/api/v1/products", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{" }],
    ["an oversized body", "/api/v1/products", { method: "POST", body: "x".repeat(65_537) }],
    ["an invalid query", "/api/v1/products?page=0", {}],
    ["a malformed token", "/api/v1/auth/me", { headers: { Authorization: "Bearer not-a-token" } }],
    ["a write without a token", "/api/v1/products/1", { method: "DELETE" }],
  ] as const)("answers %s in the error shape", async (_case, path, init: RequestInit) => {
    const res = await api(path, init);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.headers.get("Content-Type")).toMatch(/^application\/json/);
    expectErrorShape(await res.json());
  });
});

describe("CORS", () => {
  it("answers a preflight with the methods and headers clients send", async () => {
    const res = await api("/api/v1/products/1", {
      method: "OPTIONS",
      headers: {
        Origin: "https://app.example",
        "Access-Control-Request-Method": "PATCH",
        "Access-Control-Request-Headers": "authorization,content-type,idempotency-key",
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe("*");
    const allowedHeaders = (res.headers.get("Access-Control-Allow-Headers") ?? "").toLowerCase().split(/\s*,\s*/);
    for (const header of ["authorization", "content-type", "idempotency-key", "if-match", "if-none-match", "x-request-id"]) {
      expect(allowedHeaders).toContain(header);
    }
    const allowedMethods = res.headers.get("Access-Control-Allow-Methods") ?? "";
    for (const method of ["GET", "POST", "PATCH", "DELETE"]) expect(allowedMethods).toContain(method);
    expect(Number(res.headers.get("Access-Control-Max-Age"))).toBeGreaterThan(0);
  });

  it("lets browsers read the request id and caching headers", async () => {
    const res = await api("/health", { headers: { Origin: "https://app.example" } });
    const exposed = (res.headers.get("Access-Control-Expose-Headers") ?? "").toLowerCase();
    for (const header of ["x-request-id", "etag", "x-cache", "location", "retry-after"]) expect(exposed).toContain(header);
  });

  it("allows only the configured origins when a list is configured", async () => {
    const env = { CORS_ORIGINS: "https://shop.tenpo.example, https://admin.tenpo.example" };
    const preflight = (origin: string) =>
      apiWithEnv(env, "/api/v1/products", {
        method: "OPTIONS",
        headers: { Origin: origin, "Access-Control-Request-Method": "GET" },
      });
    expect((await preflight("https://admin.tenpo.example")).headers.get("Access-Control-Allow-Origin")).toBe("https://admin.tenpo.example");
    expect((await preflight("https://evil.example")).headers.get("Access-Control-Allow-Origin")).toBeNull();
  });
});

describe("the OpenAPI document's operations", () => {
  // Who may call each operation, by its operationId: a client generator names its methods after these.
  const ACCESS: Record<string, "public" | "bearer" | "optional"> = {
    registerUser: "public",
    login: "public",
    getCurrentUser: "bearer",
    listProducts: "public",
    getProduct: "public",
    createProduct: "bearer",
    updateProduct: "bearer",
    deleteProduct: "bearer",
    listCategories: "public",
    placeOrder: "bearer",
    listOrders: "bearer",
    getOrder: "bearer",
    cancelOrder: "bearer",
    createCart: "optional",
    getCart: "optional",
    setCartItem: "optional",
    removeCartItem: "optional",
    claimCart: "bearer",
    getHealth: "public",
    getReadiness: "public",
    getOpenApiDocument: "public",
    getDocs: "public",
  };
  // "optional": anyone, with or without a token (a token that is sent must be valid).
  const SECURITY = { public: [], bearer: [{ bearerAuth: [] }], optional: [{}, { bearerAuth: [] }] };

  it("gives every operation a unique camelCase operationId and exactly the security it has", async () => {
    const operations = await listOperations();
    const ids = operations.map((operation) => (operation.spec as { operationId?: string }).operationId);
    for (const [index, id] of ids.entries()) expect(id, `${operations[index]!.key} has an operationId`).toMatch(/^[a-z][a-zA-Z0-9]*$/);
    expect(new Set(ids).size, ids.join()).toBe(ids.length);
    expect([...ids].sort()).toEqual(Object.keys(ACCESS).sort());
    for (const [index, operation] of operations.entries()) {
      expect(operation.spec.security, `${operation.key} security`).toEqual(SECURITY[ACCESS[ids[index]!]!]);
    }
  });

  it("is right about the token: without one, a bearer operation is 401 and a public or optional one is not", async () => {
    const fixtures = await makeFixtures();
    for (const operation of await listOperations()) {
      const valid = VALID_REQUESTS[operation.key];
      const request = valid ? await valid(fixtures) : { path: operation.path.replace("{id}", "1"), status: 200 };
      const [path, init] = toRequest(operation, request, fixtures, { token: null });
      const res = await api(path, init);
      if (requiresToken(operation)) expect(res.status, operation.key).toBe(401);
      else expect(res.status, `${operation.key}: ${await res.clone().text()}`).not.toBe(401);
      await res.body?.cancel();
    }
  });
});
