import { env } from "cloudflare:test";
import { NeonDbError } from "@neondatabase/serverless";
import { DrizzleQueryError, sql } from "drizzle-orm";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import {
  DatabaseUnavailableError,
  READ_DEADLINE_MS,
  READ_MAX_ATTEMPTS,
  WRITE_TIMEOUT_MS,
  isDatabaseUnavailable,
  isPlainRead,
} from "../../src/db/resilience";
import { BLOB_FIELDS } from "../../src/observability/data-point";
import { READY_TIMEOUT_MS } from "../../src/routes/health";
import { makeUser, type TestUser } from "../support/accounts";
import { makeProducts } from "../support/catalog";
import { db } from "../support/db";
import { jsonRequest, stockOf } from "../support/orders";
import { CLOSED } from "../support/network";
import {
  capturingMetrics,
  clearFaults,
  expectServiceUnavailable,
  markedDatabase,
  setSqlFault,
  sqlFault,
  sqlFaultSettled,
  timed,
  quietLogs,
} from "./support";

// Postgres unavailable or slow (README "Failure modes"): every SQL-over-HTTP call is bounded, reads are
// retried a little, writes never, and what needs the database answers 503 service_unavailable with
// Retry-After, quickly. Faults are real (the SQL-over-HTTP server delays, fails or drops the
// connection; or nothing listens) and scoped to this test's own DATABASE_URL marker.

let buyer: TestUser;

beforeAll(async () => {
  buyer = await makeUser();
});

afterEach(async () => {
  vi.restoreAllMocks();
  await clearFaults();
});

const ordersOf = async (userId: number) =>
  (await db.execute<{ n: number }>(sql`select count(*)::int as n from orders where user_id = ${userId}`)).rows[0]!.n;

describe("a database that does not answer", () => {
  it("a read answers 503 within the read deadline, after a bounded number of attempts", { timeout: 20_000 }, async () => {
    quietLogs();
    const { marker, url } = markedDatabase();
    await setSqlFault(marker, { delayMs: READ_DEADLINE_MS + 1_000 });
    const { res, ms } = await timed({ DATABASE_URL: url }, "/api/v1/orders", jsonRequest("GET", buyer.token));
    await expectServiceUnavailable(res);
    expect(res.headers.get("Retry-After")).toBe("5");
    expect(ms).toBeGreaterThanOrEqual(READ_DEADLINE_MS - 200);
    expect(ms).toBeLessThan(READ_DEADLINE_MS + 1_000);
    const record = await sqlFault(marker);
    expect(record!.matched).toBeGreaterThanOrEqual(2); // timed out, retried
    expect(record!.matched).toBeLessThanOrEqual(READ_MAX_ATTEMPTS);
  });

  it("/health/ready names the database within READY_TIMEOUT_MS", { timeout: 20_000 }, async () => {
    quietLogs();
    const { marker, url } = markedDatabase();
    await setSqlFault(marker, { delayMs: READ_DEADLINE_MS + 1_000 });
    const { res, ms } = await timed({ DATABASE_URL: url }, "/health/ready");
    expect(res.status).toBe(503);
    expect(ms).toBeLessThan(READY_TIMEOUT_MS + 700);
    const body = (await res.json()) as { checks: Record<string, { status: string; error?: string }> };
    expect(body.checks.database).toEqual({ status: "error", error: "database is not answering" });
    expect(body.checks.cache?.status).toBe("ok");
  });

  it("an endpoint nothing listens on: 503 at once", async () => {
    quietLogs();
    const { res, ms } = await timed({ NEON_HTTP_ENDPOINT: `${CLOSED}/sql` }, "/api/v1/orders", jsonRequest("GET", buyer.token));
    await expectServiceUnavailable(res);
    expect(ms).toBeLessThan(1_000);
  });

  it("PostgreSQL itself down behind the endpoint (its 503): 503 at once", async () => {
    quietLogs();
    const down = new URL(env.DATABASE_URL);
    down.port = "9";
    const { res, ms } = await timed({ DATABASE_URL: down.toString() }, "/api/v1/orders", jsonRequest("GET", buyer.token));
    await expectServiceUnavailable(res);
    expect(ms).toBeLessThan(1_500);
  });
});

describe("a database endpoint that fails now and then", () => {
  it("a read is retried: one 503 from the endpoint, then 200", async () => {
    const { marker, url } = markedDatabase();
    await setSqlFault(marker, { failStatus: 503, times: 1 });
    const { res } = await timed({ DATABASE_URL: url }, "/api/v1/orders", jsonRequest("GET", buyer.token));
    expect(res.status).toBe(200);
    expect(await sqlFault(marker)).toMatchObject({ matched: 2, applied: 1 });
  });

  it("a read is retried after a dropped connection (no answer at all), then 200", async () => {
    const { marker, url } = markedDatabase();
    await setSqlFault(marker, { drop: true, times: 1 });
    const { res } = await timed({ DATABASE_URL: url }, "/api/v1/orders", jsonRequest("GET", buyer.token));
    expect(res.status).toBe(200);
    expect(await sqlFault(marker)).toMatchObject({ matched: 2, applied: 1 });
  });

  it("a read that keeps failing: 503 after READ_MAX_ATTEMPTS attempts, quickly, and the request says db was degraded", async () => {
    quietLogs();
    const { marker, url } = markedDatabase();
    await setSqlFault(marker, { failStatus: 502 });
    const metrics = capturingMetrics();
    const { res, ms } = await timed({ DATABASE_URL: url, METRICS: metrics.binding }, "/api/v1/orders", jsonRequest("GET", buyer.token));
    await expectServiceUnavailable(res);
    expect(ms).toBeLessThan(1_000);
    expect((await sqlFault(marker))!.matched).toBe(READ_MAX_ATTEMPTS);
    expect(metrics.points).toHaveLength(1);
    expect(metrics.points[0]!.blobs![BLOB_FIELDS.indexOf("degraded")]).toBe("db");
    expect(metrics.points[0]!.doubles![1]).toBe(READ_MAX_ATTEMPTS); // every attempt is a round trip
  });

  it("a write is never retried: one 503 from the endpoint → 503, nothing written", async () => {
    quietLogs();
    const user = await makeUser();
    const [product] = await makeProducts([{ stock: 10 }]);
    const { marker, url } = markedDatabase();
    await setSqlFault(marker, { failStatus: 503, times: 1 });
    const { res } = await timed(
      { DATABASE_URL: url },
      "/api/v1/orders",
      jsonRequest("POST", user.token, { items: [{ product_id: product, quantity: 2 }] }),
    );
    await expectServiceUnavailable(res);
    expect(await sqlFault(marker)).toMatchObject({ matched: 1, applied: 1 });
    expect(await stockOf(product!)).toBe(10);
    expect(await ordersOf(user.id)).toBe(0);
  });

  it("a write that times out is sent once: 503 after WRITE_TIMEOUT_MS, never re-sent (it may still commit)", {
    timeout: 30_000,
  }, async () => {
    quietLogs();
    const user = await makeUser();
    const [product] = await makeProducts([{ stock: 10 }]);
    const { marker, url } = markedDatabase();
    await setSqlFault(marker, { delayMs: WRITE_TIMEOUT_MS + 1_000 });
    const { res, ms } = await timed(
      { DATABASE_URL: url },
      "/api/v1/orders",
      jsonRequest("POST", user.token, { items: [{ product_id: product, quantity: 2 }] }),
    );
    await expectServiceUnavailable(res);
    expect(ms).toBeGreaterThanOrEqual(WRITE_TIMEOUT_MS - 200);
    expect(ms).toBeLessThan(WRITE_TIMEOUT_MS + 1_000);
    // The server still runs the statement it received once its delay is over: the outcome of a timed-out
    // write is unknown to the Worker, which is why it never re-sends one, and why clients retry with an
    // Idempotency-Key (test/faults/orders.test.ts). Sent once, so at most one order.
    const record = await sqlFaultSettled(marker);
    expect(record).toMatchObject({ matched: 1, settled: 1 });
    expect(await ordersOf(user.id)).toBe(1);
    expect(await stockOf(product!)).toBe(8);
  });
});

describe("Postgres' own errors stay what they are", () => {
  it("a unique violation is still 409 and a missing database still a bare 500, each after one request", async () => {
    quietLogs();
    const { marker, url } = markedDatabase();
    await setSqlFault(marker, {}); // matches and counts, does nothing
    const email = `fault-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const register = () =>
      timed({ DATABASE_URL: url }, "/api/v1/auth/register", jsonRequest("POST", null, { email, password: "password123" }));
    expect((await register()).res.status).toBe(201);
    const before = (await sqlFault(marker))!.matched;
    const again = (await register()).res;
    expect(again.status).toBe(409);
    expect((await sqlFault(marker))!.matched - before).toBe(1);

    const missing = new URL(url);
    missing.pathname = "/does_not_exist_db";
    const { res } = await timed({ DATABASE_URL: missing.toString() }, "/api/v1/orders", jsonRequest("GET", buyer.token));
    expect(res.status).toBe(500);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("internal_error");
    expect((await sqlFault(marker))!.matched - before).toBe(2);
  });
});

describe("the OpenAPI document", () => {
  it("lists 503 service_unavailable with Retry-After on the API's operations", async () => {
    const doc = (await (await timed({}, "/openapi.json")).res.json()) as {
      paths: Record<string, Record<string, { responses: Record<string, { headers?: Record<string, unknown> }> }>>;
    };
    for (const [path, method] of [
      ["/api/v1/orders", "post"],
      ["/api/v1/products/{id}", "get"],
      ["/api/v1/auth/login", "post"],
    ] as const) {
      expect(doc.paths[path]![method]!.responses["503"]?.headers).toHaveProperty("Retry-After");
    }
    expect(doc.paths["/health"]!.get!.responses["503"]).toBeUndefined();
  });
});

describe("what counts as a read, and as the database being unavailable", () => {
  const body = (query: string) => JSON.stringify({ query, params: [] });

  it.each([
    ["select 1", true],
    ['  select "id" from "products" where "id" = $1', true],
    ["with page as materialized (select * from orders) select count(*) from page", true],
    ["/* note */ select updated_at, deleted_at from products", true],
    ["select id from products for update", false],
    ["with t as (update products set stock = 1 returning id) select * from t", false],
    ["insert into users (email) values ($1)", false],
    ["select * into copy_of from products", false],
    ["select nextval('s')", false],
    ["explain select 1", false],
  ])("%s → read: %s", (query, read) => {
    expect(isPlainRead(body(query))).toBe(read);
  });

  it("a batch is never a read", () => {
    expect(isPlainRead(JSON.stringify({ queries: [{ query: "select 1", params: [] }] }))).toBe(false);
  });

  it("recognises the failure inside the driver's and drizzle's wrappers, and only transport failures", () => {
    const wrapped = (source: unknown) => {
      const neonError = new NeonDbError("Error connecting to database: …");
      (neonError as unknown as { sourceError: unknown }).sourceError = source;
      return new DrizzleQueryError("select 1", [], neonError);
    };
    expect(isDatabaseUnavailable(wrapped(new DatabaseUnavailableError("down", "network")))).toBe(true);
    const postgresError = (code: string) => Object.assign(new NeonDbError("pg"), { code });
    expect(isDatabaseUnavailable(new DrizzleQueryError("select 1", [], postgresError("57P01")))).toBe(true);
    expect(isDatabaseUnavailable(postgresError("08006"))).toBe(true);
    expect(isDatabaseUnavailable(postgresError("23505"))).toBe(false);
    expect(isDatabaseUnavailable(postgresError("3D000"))).toBe(false);
    expect(isDatabaseUnavailable(new Error("anything"))).toBe(false);
  });
});
