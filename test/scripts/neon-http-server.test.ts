/**
 * Specification of scripts/neon-http-server.ts, driven from inside workerd by the real
 * @neondatabase/serverless driver (as the Worker uses it), plus plain fetch for raw protocol checks.
 * Tables are uniquely named per run because other test files share the database in parallel.
 */
import { env } from "cloudflare:test";
import { neon, neonConfig, NeonDbError } from "@neondatabase/serverless";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SQL_SERVER_AUTH, sqlServerFetch } from "../support/sql-server";

const suffix = crypto.randomUUID().replaceAll("-", "").slice(0, 12);
const TABLE = `nhs_items_${suffix}`;
// A database no other test file talks to through the server, so its counters and faults are ours alone.
const quietDbUrl = withUrl(env.DATABASE_URL, (u) => {
  u.pathname = "/postgres";
});
// The driver sends the run's secret as its bearer token, as src/db/client.ts does.
const withSecret = { authToken: env.NEON_HTTP_SECRET };
const sql = neon(env.DATABASE_URL, withSecret);

function withUrl(url: string, change: (u: URL) => void): string {
  const u = new URL(url);
  change(u);
  return u.toString();
}

async function rejection(promise: Promise<unknown>): Promise<NeonDbError> {
  const err: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(NeonDbError);
  return err as NeonDbError;
}

function rawSql(body: string, headers: Record<string, string> = { "Neon-Connection-String": env.DATABASE_URL }): Promise<Response> {
  return fetch(env.NEON_HTTP_ENDPOINT, { method: "POST", headers: { ...SQL_SERVER_AUTH, ...headers }, body });
}

interface Stats {
  requests: number;
  statements: number;
  byDatabase: Record<string, { requests: number; statements: number }>;
  byApplication: Record<string, { requests: number; statements: number }>;
}
async function quietDbStats(): Promise<{ requests: number; statements: number }> {
  const stats = (await (await sqlServerFetch("/__stats")).json()) as Stats;
  return stats.byDatabase.postgres ?? { requests: 0, statements: 0 };
}

// The server as the bare driver sees it: without the Worker's fetch (src/db/client.ts, loaded in this
// isolate with the Worker), which bounds calls, retries reads and turns 5xx into DatabaseUnavailableError.
const workerFetch = neonConfig.fetchFunction;

beforeAll(async () => {
  neonConfig.fetchFunction = fetch;
  neonConfig.fetchEndpoint = env.NEON_HTTP_ENDPOINT;
  await sql.query(`CREATE TABLE ${TABLE} (id int PRIMARY KEY, sku text NOT NULL UNIQUE)`);
});

afterAll(async () => {
  neonConfig.fetchFunction = workerFetch;
  await sql.query(`DROP TABLE IF EXISTS ${TABLE}`);
  // Only this file's scope: other files may have faults of their own set right now.
  await sqlServerFetch("/__faults?database=postgres", { method: "DELETE" });
});

describe("type round trips through the driver's own parsers", () => {
  it("returns timestamptz as a Date", async () => {
    const [row] = await sql`SELECT '2024-03-01T12:34:56.789Z'::timestamptz AS at`;
    expect(row?.at).toBeInstanceOf(Date);
    expect((row!.at as Date).toISOString()).toBe("2024-03-01T12:34:56.789Z");
  });

  it("returns numeric as an exact string and bigint as a string", async () => {
    const [row] = await sql`SELECT 1234.50::numeric(10,2) AS price, 9007199254740993::bigint AS big`;
    expect(row).toEqual({ price: "1234.50", big: "9007199254740993" });
  });

  it("returns jsonb, int arrays, text arrays, booleans and NULL", async () => {
    const [row] = await sql`
      SELECT '{"a":[1,{"b":null}]}'::jsonb AS doc, ARRAY[1,2,3] AS ints,
             ARRAY['plain','with, comma','with "quote"',NULL]::text[] AS texts,
             true AS yes, false AS no, NULL::int AS nothing`;
    expect(row).toEqual({
      doc: { a: [1, { b: null }] },
      ints: [1, 2, 3],
      texts: ["plain", "with, comma", 'with "quote"', null],
      yes: true,
      no: false,
      nothing: null,
    });
  });

  it("returns bytea as bytes", async () => {
    const [row] = await sql`SELECT '\\xdeadbeef'::bytea AS bytes`;
    expect([...(row!.bytes as Uint8Array)]).toEqual([0xde, 0xad, 0xbe, 0xef]);
  });

  it("binds parameters of every kind the driver serialises", async () => {
    const at = new Date("2025-01-02T03:04:05.678Z");
    const [row] = await sql`
      SELECT ${"it's"}::text AS s, ${41}::int + 1 AS n, ${null}::text AS nul, ${at}::timestamptz AS at,
             ${{ k: ["v"] }}::jsonb AS doc, ${[1, 2]}::int[] AS ints, ${true}::bool AS flag`;
    expect(row).toEqual({ s: "it's", n: 42, nul: null, at, doc: { k: ["v"] }, ints: [1, 2], flag: true });
  });

  it("answers fullResults with command, rowCount and fields", async () => {
    const res = await sql.query("SELECT 1 AS one UNION ALL SELECT 2", [], { fullResults: true });
    expect(res.command).toBe("SELECT");
    expect(res.rowCount).toBe(2);
    expect(res.fields).toEqual([expect.objectContaining({ name: "one", dataTypeID: 23, format: "text" })]);
    expect(res.rows).toEqual([{ one: 1 }, { one: 2 }]);
  });
});

describe("transaction() batches", () => {
  it("commits every statement and returns one result per statement", async () => {
    const [, , rows] = await sql.transaction([
      sql.query(`INSERT INTO ${TABLE} VALUES (1, 'commit-a')`),
      sql.query(`INSERT INTO ${TABLE} VALUES (2, 'commit-b')`),
      sql.query(`SELECT id FROM ${TABLE} WHERE id IN (1, 2) ORDER BY id`),
    ]);
    expect(rows).toEqual([{ id: 1 }, { id: 2 }]);
    expect(await sql.query(`SELECT count(*)::int AS n FROM ${TABLE} WHERE id IN (1, 2)`)).toEqual([{ n: 2 }]);
  });

  it("rolls back the first statement's write when a later one fails", async () => {
    const err = await rejection(
      sql.transaction([
        sql.query(`INSERT INTO ${TABLE} VALUES (10, 'rollback-a')`),
        sql.query(`INSERT INTO ${TABLE} VALUES (11, 'commit-a')`),
      ]),
    );
    expect(err.code).toBe("23505");
    expect(await sql.query(`SELECT id FROM ${TABLE} WHERE id = 10`)).toEqual([]);
  });

  it("honours readOnly and the isolation level", async () => {
    const err = await rejection(sql.transaction([sql.query(`INSERT INTO ${TABLE} VALUES (20, 'read-only')`)], { readOnly: true }));
    expect(err.code).toBe("25006");
    const [[level]] = (await sql.transaction([sql`SHOW transaction_isolation`], { isolationLevel: "Serializable" })) as [
      Record<string, string>[],
    ];
    expect(level).toEqual({ transaction_isolation: "serializable" });
  });
});

describe("Postgres errors", () => {
  it("carries code 23505, constraint, table and detail on a unique violation", async () => {
    await sql.query(`INSERT INTO ${TABLE} VALUES (30, 'unique-sku')`);
    const err = await rejection(sql.query(`INSERT INTO ${TABLE} VALUES (31, 'unique-sku')`));
    expect(err).toMatchObject({
      code: "23505",
      constraint: `${TABLE}_sku_key`,
      table: TABLE,
      schema: "public",
      severity: "ERROR",
      detail: "Key (sku)=(unique-sku) already exists.",
    });
  });

  it("carries code 42P01 and the position on a missing table", async () => {
    const err = await rejection(sql`SELECT * FROM nhs_no_such_table`);
    expect(err.code).toBe("42P01");
    expect(err.position).toBe("15");
    expect(err.message).toContain("nhs_no_such_table");
  });

  it("rejects a multi-statement string without running any of it, as Neon does", async () => {
    const err = await rejection(sql.query(`INSERT INTO ${TABLE} VALUES (40, 'multi'); SELECT 1`));
    expect(err.code).toBe("42601");
    expect(await sql.query(`SELECT id FROM ${TABLE} WHERE id = 40`)).toEqual([]);
  });

  it("answers 503 naming the database when PostgreSQL is down", async () => {
    const down = neon(
      withUrl(env.DATABASE_URL, (u) => {
        u.port = "9";
      }),
      withSecret,
    );
    const err = await rejection(down`SELECT 1`);
    expect(err.message).toMatch(/HTTP status 503/);
    expect(err.message).toContain("127.0.0.1:9");
  });
});

describe("raw protocol", () => {
  it("returns rows as arrays of Postgres text in array mode", async () => {
    const res = await rawSql(JSON.stringify({ query: "SELECT 1 AS a, NULL::text AS b, now() AS c", params: [] }), {
      "Neon-Connection-String": env.DATABASE_URL,
      "Neon-Array-Mode": "true",
      "Neon-Raw-Text-Output": "true",
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { rowAsArray: boolean; rows: unknown[][] };
    expect(body.rowAsArray).toBe(true);
    expect(body.rows[0]?.slice(0, 2)).toEqual(["1", null]);
    expect(body.rows[0]?.[2]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+\+00$/);
  });

  it("returns rows keyed by field name without array mode", async () => {
    const res = await rawSql(JSON.stringify({ query: "SELECT $1::int AS a", params: ["7"] }));
    expect(await res.json()).toMatchObject({ command: "SELECT", rowCount: 1, rowAsArray: false, rows: [{ a: "7" }] });
  });

  it.each([
    ["a missing Neon-Connection-String", {}, /Missing Neon-Connection-String/],
    ["a malformed connection string", { "Neon-Connection-String": "not a url" }, /not a valid URL/],
    ["a non-postgres URL", { "Neon-Connection-String": "http://127.0.0.1/db" }, /must be postgresql:/],
    ["a non-loopback database host", { "Neon-Connection-String": "postgresql://u@db.example.com/x" }, /not loopback/],
  ])("rejects %s with 400", async (_name, headers: Record<string, string>, message) => {
    const res = await rawSql(JSON.stringify({ query: "SELECT 1", params: [] }), headers);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(message);
  });

  it("rejects a body that is not JSON or not a query with 400", async () => {
    expect((await rawSql("{nope")).status).toBe(400);
    expect((await rawSql(JSON.stringify({ sql: "SELECT 1" }))).status).toBe(400);
  });

  it("answers a wrong method with 405 and an unknown path with 404, as JSON", async () => {
    const wrongMethod = await sqlServerFetch("/sql");
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get("Allow")).toBe("POST");
    const unknown = await sqlServerFetch("/nowhere", { method: "POST" });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ message: "No route for /nowhere" });
  });
});

describe("who may call", () => {
  const select = JSON.stringify({ query: "SELECT 1", params: [] });
  const connection = { "Neon-Connection-String": env.DATABASE_URL };

  it("answers 401 to a request without the run's secret, or with another, on every route", async () => {
    for (const authorization of [undefined, "Bearer not-the-secret", `Basic ${env.NEON_HTTP_SECRET}`]) {
      const headers: Record<string, string> = authorization ? { ...connection, Authorization: authorization } : connection;
      const res = await fetch(env.NEON_HTTP_ENDPOINT, { method: "POST", headers, body: select });
      expect(res.status, authorization).toBe(401);
      expect(((await res.json()) as { message: string }).message).toMatch(/secret/);
      const hook = await fetch(
        env.NEON_HTTP_ENDPOINT.replace(/\/sql$/, "/__stats"),
        authorization ? { headers: { Authorization: authorization } } : {},
      );
      expect(hook.status, authorization).toBe(401);
      await hook.body?.cancel();
    }
  });

  it("refuses the driver without the secret", async () => {
    const err = await rejection(neon(env.DATABASE_URL)`SELECT 1`);
    expect(err.message).toMatch(/HTTP status 401/);
  });

  it("answers 403 to a web page's request (a foreign Origin), secret or not", async () => {
    for (const origin of ["https://evil.example", "null", "http://127.0.0.1.evil.example:4444"]) {
      const res = await rawSql(select, { ...connection, Origin: origin });
      expect(res.status, origin).toBe(403);
      expect(((await res.json()) as { message: string }).message).toMatch(/Origin .* is not this machine/);
    }
  });

  it("serves a page of this machine (a loopback Origin)", async () => {
    const res = await rawSql(select, { ...connection, Origin: "http://localhost:3000" });
    expect(res.status).toBe(200);
    await res.body?.cancel();
  });
});

describe("control routes", () => {
  const quiet = neon(quietDbUrl, withSecret);

  it("counts requests and statements per database", async () => {
    const before = await quietDbStats();
    await quiet`SELECT 1`;
    await quiet.transaction([quiet`SELECT 1`, quiet`SELECT 2`, quiet`SELECT 3`]);
    expect(await quietDbStats()).toEqual({ requests: before.requests + 2, statements: before.statements + 4 });
  });

  it("counts requests and statements per application_name, the marker a test gives its own connection string", async () => {
    const marker = `nhsapp${suffix}`;
    const marked = neon(
      withUrl(env.DATABASE_URL, (u) => u.searchParams.set("application_name", marker)),
      withSecret,
    );
    await marked`SELECT 1`;
    await marked.transaction([marked`SELECT 1`, marked`SELECT 2`]);
    await sql`SELECT 1`;
    const stats = (await (await sqlServerFetch("/__stats")).json()) as Stats;
    expect(stats.byApplication[marker]).toEqual({ requests: 2, statements: 3 });
  });

  it("injects a delay and a failure status for one database, then clears them", async () => {
    const set = await sqlServerFetch("/__faults", {
      method: "POST",
      body: JSON.stringify({ delayMs: 150, failStatus: 503, database: "postgres" }),
    });
    expect(set.status).toBe(200);
    try {
      const started = Date.now();
      const err = await rejection(quiet`SELECT 1`);
      expect(err.message).toMatch(/HTTP status 503.*Injected fault/);
      expect(Date.now() - started).toBeGreaterThanOrEqual(150);
      expect(await sql`SELECT 1 AS ok`).toEqual([{ ok: 1 }]);
    } finally {
      await sqlServerFetch("/__faults?database=postgres", { method: "DELETE" });
    }
    expect(await quiet`SELECT 1 AS ok`).toEqual([{ ok: 1 }]);
  });

  it("rejects an invalid fault with 400", async () => {
    for (const fault of [
      { failStatus: 200 },
      { marker: "" },
      { failAt: "mid-batch" },
      { failStatus: 503, failAt: "sometime" },
      { drop: "yes" },
      { failStatus: 503, times: 0 },
    ]) {
      const res = await sqlServerFetch("/__faults", { method: "POST", body: JSON.stringify(fault) });
      expect(res.status, JSON.stringify(fault)).toBe(400);
    }
  });

  describe("faults scoped to a marker in the connection string", () => {
    type FaultRecord = { marker?: string; matched: number; applied: number; settled: number };
    const newMarker = () => `nhs${crypto.randomUUID().replaceAll("-", "")}`;
    const marked = (marker: string) =>
      neon(
        withUrl(env.DATABASE_URL, (u) => u.searchParams.set("application_name", marker)),
        withSecret,
      );
    const setFault = async (fault: Record<string, unknown>) => {
      const res = await sqlServerFetch("/__faults", { method: "POST", body: JSON.stringify(fault) });
      expect(res.status).toBe(200);
    };
    const clear = (marker: string) => sqlServerFetch(`/__faults?marker=${marker}`, { method: "DELETE" });
    const recordOf = async (marker: string) =>
      ((await (await sqlServerFetch("/__faults")).json()) as { faults: FaultRecord[] }).faults.find((f) => f.marker === marker);
    const rowsWith = async (id: number) => (await sql.query(`SELECT id FROM ${TABLE} WHERE id = $1`, [id])).length;

    it("acts only on requests carrying the marker, counts them, and is cleared alone", async () => {
      const [mine, other] = [newMarker(), newMarker()];
      await setFault({ marker: mine, failStatus: 503 });
      await setFault({ marker: other, failStatus: 502 });
      try {
        expect((await rejection(marked(mine)`SELECT 1`)).message).toMatch(/HTTP status 503/);
        expect(await sql`SELECT 1 AS ok`).toEqual([{ ok: 1 }]);
        expect(await recordOf(mine)).toMatchObject({ matched: 1, applied: 1, settled: 1 });
        await clear(mine);
        expect(await marked(mine)`SELECT 1 AS ok`).toEqual([{ ok: 1 }]);
        // The other scope is still there.
        expect((await rejection(marked(other)`SELECT 1`)).message).toMatch(/HTTP status 502/);
      } finally {
        await clear(mine);
        await clear(other);
      }
    });

    it("times: acts on the next N requests, then lets them through", async () => {
      const marker = newMarker();
      await setFault({ marker, failStatus: 503, times: 1 });
      try {
        await rejection(marked(marker)`SELECT 1`);
        expect(await marked(marker)`SELECT 1 AS ok`).toEqual([{ ok: 1 }]);
        expect(await recordOf(marker)).toMatchObject({ matched: 2, applied: 1, settled: 2 });
      } finally {
        await clear(marker);
      }
    });

    it("mid-batch: the first statement runs in the transaction, then the failure rolls it back", async () => {
      const marker = newMarker();
      const db = marked(marker);
      await setFault({ marker, failStatus: 503, failAt: "mid-batch" });
      try {
        await rejection(
          db.transaction([db.query(`INSERT INTO ${TABLE} VALUES (60, 'mid-a')`), db.query(`INSERT INTO ${TABLE} VALUES (61, 'mid-b')`)]),
        );
        await rejection(db.query(`INSERT INTO ${TABLE} VALUES (62, 'mid-single')`));
      } finally {
        await clear(marker);
      }
      expect([await rowsWith(60), await rowsWith(61), await rowsWith(62)]).toEqual([0, 0, 0]);
    });

    it("after-commit: the write stands though the answer is an error, or no answer at all (drop)", async () => {
      const marker = newMarker();
      const db = marked(marker);
      await setFault({ marker, failStatus: 502, failAt: "after-commit" });
      try {
        expect((await rejection(db.query(`INSERT INTO ${TABLE} VALUES (70, 'after-commit')`))).message).toMatch(/HTTP status 502/);
        await setFault({ marker, drop: true, failAt: "after-commit" });
        const dropped = await rejection(db.transaction([db.query(`INSERT INTO ${TABLE} VALUES (71, 'dropped')`)]));
        expect(dropped.message).toMatch(/Error connecting to database/);
      } finally {
        await clear(marker);
      }
      expect([await rowsWith(70), await rowsWith(71)]).toEqual([1, 1]);
    });
  });
});
