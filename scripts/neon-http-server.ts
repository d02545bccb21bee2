/**
 * Local stand-in for Neon's SQL-over-HTTP endpoint, backed by a real PostgreSQL.
 *
 * Production reaches Neon through @neondatabase/serverless (`neon()`, drizzle-orm/neon-http), which
 * POSTs JSON to `https://api.<host>/sql`. Locally and in CI the Worker keeps that exact driver and
 * only sets `neonConfig.fetchEndpoint` to this server, so tests exercise the real client-side code
 * (type parsing, NeonDbError mapping, transaction batches). No npm package does this.
 *
 * Protocol, as the 1.2.0 driver speaks it:
 *   - headers: Neon-Connection-String (target database), Neon-Array-Mode, Neon-Raw-Text-Output,
 *     and for transaction() batches Neon-Batch-Isolation-Level / -Read-Only / -Deferrable;
 *   - body `{query, params}` → `{command, rowCount, rowAsArray, fields, rows}`;
 *     body `{queries: [...]}` → `{results: [...]}`, run in one BEGIN … COMMIT;
 *   - values are Postgres text output: the driver runs its own type parsers on them;
 *   - a Postgres error is HTTP 400 with the error fields as JSON; any other status is shown as text.
 *
 * Who may call: every request needs `Authorization: Bearer <secret>` (the driver's `authToken`; the
 * secret is new at every run, src/db/client.ts sends NEON_HTTP_SECRET), else 401; and only programs on
 * this machine: a `Host` that is not a loopback name (DNS rebinding) or a foreign `Origin` (a web page)
 * is refused with 403 (scripts/local-http.ts). Postgres behind it trusts whoever connects, so a caller
 * that gets through may run any SQL as the superuser.
 *
 * Control routes for tests (JSON in and out, behind the same secret):
 *   GET  /__stats        → {requests, statements, byDatabase: {<db>: {requests, statements}},
 *                            byApplication: {<application_name>: {requests, statements}}}
 *                          byApplication counts requests whose connection string carries an
 *                          `application_name` (a test's own marker): a count no parallel test disturbs
 *   POST /__stats/reset  → zero the counters
 *   POST /__faults       ← a fault (below) → the fault as stored, with its counters; replaces the
 *                          fault of the same scope (database + marker), leaves other scopes alone
 *   GET /__faults        → {faults: [...]} with counters: matched (requests in scope), applied
 *                          (those the fault acted on), settled (matched requests that have finished)
 *   DELETE /__faults?database=…&marker=…  → remove the fault of that scope; without a query, all faults
 *
 * A fault: {database?, marker?, delayMs?, failStatus?, drop?, failAt?, times?}
 *   - scope: `database` (a database name) and/or `marker` (text the Neon-Connection-String must
 *     contain, e.g. an `application_name=<marker>` query parameter, which the driver forwards and
 *     this server otherwise ignores). Test files share one database and this server: a marker of
 *     their own keeps a fault on their own requests. The most specific matching fault applies.
 *   - delayMs: wait before running anything (the request still runs afterwards, even if the
 *     client gave up meanwhile, as a real server may);
 *   - failStatus: answer this HTTP status; drop: destroy the connection instead (no answer at all);
 *   - failAt: "before" (default: nothing runs), "mid-batch" (the first statement runs inside the
 *     request's transaction, then the failure; the transaction is rolled back; a single statement
 *     runs in a transaction of its own), "after-commit" (everything ran and committed; the answer is lost);
 *   - times: act on the next N matching requests only, then let them through.
 *
 * Run directly: `npx tsx scripts/neon-http-server.ts --port 4444 [--host 127.0.0.1] [--secret S] [--verbose]`
 * (without --secret, or NEON_HTTP_SECRET in the environment, it makes one and prints it).
 */
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import {
  cliOption,
  hasBearer,
  HttpError,
  isMainModule,
  newLocalSecret,
  readBody,
  refuseForeignRequest,
  sendJson,
  stopOnSignals,
} from "./local-http";

export interface NeonHttpServerOptions {
  host?: string;
  /** 0 = ephemeral. */
  port?: number;
  /** Pool size per connection string; the embedded PGlite fallback needs 1. */
  maxConnections?: number;
  /** Accept non-loopback database hosts. Off by default so this never becomes an open relay. */
  allowAnyHost?: boolean;
  /** The bearer token every request must carry (the Worker's NEON_HTTP_SECRET): `newLocalSecret()` per run. */
  secret: string;
  log?: (line: string) => void;
}

export interface Counters {
  requests: number;
  statements: number;
}
export interface NeonHttpStats extends Counters {
  byDatabase: Record<string, Counters>;
  /** Keyed by the connection string's application_name, when it has one. */
  byApplication: Record<string, Counters>;
}

export interface NeonHttpServer {
  /** The /sql endpoint, e.g. http://127.0.0.1:4444/sql */
  url: string;
  port: number;
  stats(): NeonHttpStats;
  /** Closes the HTTP server and every database pool. */
  close(): Promise<void>;
}

interface SqlQuery {
  query: string;
  params: unknown[];
}
type FailAt = "before" | "mid-batch" | "after-commit";
const FAIL_AT: readonly FailAt[] = ["before", "mid-batch", "after-commit"];
export interface Fault {
  database?: string;
  marker?: string;
  delayMs?: number;
  failStatus?: number;
  drop?: boolean;
  failAt?: FailAt;
  times?: number;
}
interface FaultRecord extends Fault {
  matched: number;
  applied: number;
  settled: number;
}
interface Target {
  key: string;
  database: string;
  /** The connection string's application_name (only counted, never sent to Postgres). */
  application: string | undefined;
  config: pg.PoolConfig;
}

const CONNECT_TIMEOUT_MS = 5_000;
// Waiting for a free pooled connection is not an outage: with a 1-connection PGlite it can take a while.
const POOL_WAIT_TIMEOUT_MS = 30_000;
const MAX_BODY_BYTES = 10 * 1024 * 1024;
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "::1"]);
// transaction() options arrive as headers; each maps onto a BEGIN transaction mode.
const BATCH_MODES: Record<string, Record<string, string>> = {
  "neon-batch-isolation-level": {
    ReadUncommitted: "ISOLATION LEVEL READ UNCOMMITTED",
    ReadCommitted: "ISOLATION LEVEL READ COMMITTED",
    RepeatableRead: "ISOLATION LEVEL REPEATABLE READ",
    Serializable: "ISOLATION LEVEL SERIALIZABLE",
  },
  "neon-batch-read-only": { true: "READ ONLY", false: "READ WRITE" },
  "neon-batch-deferrable": { true: "DEFERRABLE", false: "NOT DEFERRABLE" },
};
// The fields NeonDbError copies from a 400 body (the driver's own list).
const PG_ERROR_FIELDS = [
  "severity",
  "code",
  "detail",
  "hint",
  "position",
  "internalPosition",
  "internalQuery",
  "where",
  "schema",
  "table",
  "column",
  "dataType",
  "constraint",
  "file",
  "line",
  "routine",
] as const;

// Every column comes back as Postgres' text output; the driver parses it like Neon's would be.
const rawText = (value: string): string => value;
const RAW_TEXT_TYPES = { getTypeParser: () => rawText } as unknown as pg.CustomTypesConfig;

// The connect timeout belongs to the TCP/startup phase only, not to waiting in the pool queue.
class TimedClient extends pg.Client {
  constructor(config?: pg.ClientConfig) {
    super({ ...config, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  }
}

/** An injected fault that answers nothing: the connection is destroyed. */
class DroppedConnection extends Error {}

const scopeOf = (fault: Fault): string => `${fault.database ?? ""}\u0000${fault.marker ?? ""}`;

function injected(fault: Fault): Error {
  if (fault.drop) return new DroppedConnection("Injected fault: connection dropped");
  return new HttpError(fault.failStatus!, `Injected fault (HTTP ${fault.failStatus})`);
}

export async function startNeonHttpServer(opts: NeonHttpServerOptions): Promise<NeonHttpServer> {
  if (!opts.secret) throw new Error("startNeonHttpServer: a secret is required");
  const log = opts.log ?? (() => {});
  const pools = new Map<string, pg.Pool>();
  const emptyStats = (): NeonHttpStats => ({ requests: 0, statements: 0, byDatabase: {}, byApplication: {} });
  let stats = emptyStats();
  const faults = new Map<string, FaultRecord>();

  /** The most specific fault for this request, counted as matched, and whether it acts on it. */
  function faultFor(database: string, connectionString: string): { record: FaultRecord; applies: boolean } | undefined {
    let best: FaultRecord | undefined;
    let bestRank = -1;
    for (const record of faults.values()) {
      if (record.database !== undefined && record.database !== database) continue;
      if (record.marker !== undefined && !connectionString.includes(record.marker)) continue;
      const rank = (record.marker !== undefined ? 2 : 0) + (record.database !== undefined ? 1 : 0);
      if (rank > bestRank) [best, bestRank] = [record, rank];
    }
    if (!best) return undefined;
    best.matched += 1;
    const applies = best.times === undefined || best.applied < best.times;
    if (applies) best.applied += 1;
    return { record: best, applies };
  }

  function poolFor(target: Target): pg.Pool {
    let pool = pools.get(target.key);
    if (!pool) {
      pool = new pg.Pool(target.config);
      // An idle connection dying (Postgres restart) must not crash the process.
      pool.on("error", (err) => log(`pool ${target.database}: ${err.message}`));
      pools.set(target.key, pool);
    }
    return pool;
  }

  function count(target: Target, field: keyof Counters): void {
    (stats.byDatabase[target.database] ??= { requests: 0, statements: 0 })[field] += 1;
    if (target.application !== undefined) (stats.byApplication[target.application] ??= { requests: 0, statements: 0 })[field] += 1;
    stats[field] += 1;
  }

  async function handleSql(req: IncomingMessage): Promise<unknown> {
    const target = parseTarget(req.headers["neon-connection-string"], opts);
    const body = parseSqlBody((await readBody(req, MAX_BODY_BYTES)).toString("utf8"));
    const begin = Array.isArray(body) ? beginStatement(req.headers) : "";
    const arrayMode = req.headers["neon-array-mode"] === "true";
    // Counted before faults apply: resilience tests want to see the client's retries.
    count(target, "requests");
    const match = faultFor(target.database, String(req.headers["neon-connection-string"]));
    try {
      return await runSql(target, body, begin, arrayMode, match?.applies ? match.record : undefined);
    } finally {
      if (match) match.record.settled += 1;
    }
  }

  async function runSql(
    target: Target,
    body: SqlQuery | SqlQuery[],
    begin: string,
    arrayMode: boolean,
    fault: Fault | undefined,
  ): Promise<unknown> {
    if (fault?.delayMs) await sleep(fault.delayMs);
    const failAt = fault && (fault.failStatus !== undefined || fault.drop) ? (fault.failAt ?? "before") : undefined;
    if (failAt === "before") throw injected(fault!);

    const onStatement = (): void => count(target, "statements");
    const pool = poolFor(target);
    try {
      if (Array.isArray(body) || failAt === "mid-batch") {
        const afterFirst =
          failAt === "mid-batch"
            ? () => {
                throw injected(fault!);
              }
            : undefined;
        const results = await runBatch(pool, Array.isArray(body) ? body : [body], begin || "BEGIN", arrayMode, onStatement, afterFirst);
        if (failAt === "after-commit") throw injected(fault!);
        return Array.isArray(body) ? { results } : results[0];
      }
      onStatement();
      const result = await runStatement(pool, body, arrayMode);
      if (failAt === "after-commit") throw injected(fault!);
      return result;
    } catch (err) {
      if (err instanceof pg.DatabaseError || err instanceof HttpError || err instanceof DroppedConnection) throw err;
      // Anything else from pg is transport: refused, timed out, connection lost.
      const reason = err instanceof Error ? err.message : String(err);
      const { host, port } = target.config;
      throw new HttpError(503, `PostgreSQL unavailable (${host}:${port}/${target.database}): ${reason}`);
    }
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    refuseForeignRequest(req);
    if (!hasBearer(req, opts.secret)) throw new HttpError(401, "Missing or wrong secret: send Authorization: Bearer <NEON_HTTP_SECRET>");
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    const method = req.method ?? "GET";
    const allow = (methods: string[]): boolean => {
      if (methods.includes(method)) return true;
      res.setHeader("Allow", methods.join(", "));
      throw new HttpError(405, `Method ${method} not allowed on ${path}`);
    };
    if (path === "/sql" && allow(["POST"])) return sendJson(res, 200, await handleSql(req));
    if (path === "/__stats" && allow(["GET"])) return sendJson(res, 200, stats);
    if (path === "/__stats/reset" && allow(["POST"])) {
      stats = emptyStats();
      return sendJson(res, 200, stats);
    }
    if (path === "/__faults" && allow(["GET", "POST", "DELETE"])) {
      if (method === "POST") {
        const fault = parseFaults((await readBody(req, MAX_BODY_BYTES)).toString("utf8"));
        const record: FaultRecord = { ...fault, matched: 0, applied: 0, settled: 0 };
        faults.set(scopeOf(fault), record);
        return sendJson(res, 200, record);
      }
      if (method === "DELETE") {
        const query = new URL(req.url ?? "/", "http://localhost").searchParams;
        if (query.has("database") || query.has("marker")) {
          faults.delete(scopeOf({ database: query.get("database") ?? undefined, marker: query.get("marker") ?? undefined }));
        } else {
          faults.clear();
        }
      }
      return sendJson(res, 200, { faults: [...faults.values()] });
    }
    throw new HttpError(404, `No route for ${path}`);
  }

  const server = http.createServer((req, res) => {
    const started = Date.now();
    route(req, res)
      .catch((err: unknown) => sendError(res, err))
      .finally(() => log(`${req.method} ${req.url} ${res.statusCode} ${Date.now() - started}ms`));
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  const urlHost = address.includes(":") ? `[${address}]` : address;

  return {
    url: `http://${urlHost}:${port}/sql`,
    port,
    stats: () => structuredClone(stats),
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Keep-alive sockets from workerd's fetch would otherwise hold close() open.
      server.closeAllConnections();
      await Promise.all([closed, ...[...pools.values()].map((p) => p.end())]);
      pools.clear();
    },
  };
}

async function runStatement(db: pg.Pool | pg.PoolClient, q: SqlQuery, arrayMode: boolean): Promise<unknown> {
  // Extended protocol even without params: a multi-statement string must fail, as it does on Neon.
  const config = { text: q.query, values: q.params, rowMode: "array" as const, types: RAW_TEXT_TYPES, queryMode: "extended" };
  const result = await db.query<unknown[]>(config);
  const fields = result.fields.map(({ name, tableID, columnID, dataTypeID, dataTypeSize, dataTypeModifier, format }) => ({
    name,
    tableID,
    columnID,
    dataTypeID,
    dataTypeSize,
    dataTypeModifier,
    format,
  }));
  const rows = arrayMode ? result.rows : result.rows.map((row) => Object.fromEntries(fields.map((f, i) => [f.name, row[i]])));
  return { command: result.command, rowCount: result.rowCount, rowAsArray: arrayMode, fields, rows };
}

async function runBatch(
  pool: pg.Pool,
  queries: SqlQuery[],
  begin: string,
  arrayMode: boolean,
  onStatement: () => void,
  afterFirst?: () => void,
): Promise<unknown[]> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query(begin);
    const results: unknown[] = [];
    for (const q of queries) {
      onStatement();
      results.push(await runStatement(client, q, arrayMode));
      if (results.length === 1) afterFirst?.();
    }
    await client.query("COMMIT");
    return results;
  } catch (err) {
    // If even ROLLBACK fails the connection is unusable: hand it back as broken so the pool drops it.
    await client.query("ROLLBACK").catch((e: Error) => {
      broken = e;
    });
    throw err;
  } finally {
    client.release(broken);
  }
}

function beginStatement(headers: http.IncomingHttpHeaders): string {
  const modes = Object.entries(BATCH_MODES).flatMap(([header, values]) => {
    const value = headers[header];
    if (value === undefined) return [];
    const mode = typeof value === "string" ? values[value] : undefined;
    if (!mode) throw new HttpError(400, `Invalid ${header} header: ${String(value)}`);
    return [mode];
  });
  return ["BEGIN", ...modes].join(" ");
}

function parseTarget(header: string | string[] | undefined, opts: NeonHttpServerOptions): Target {
  if (typeof header !== "string" || header === "") throw new HttpError(400, "Missing Neon-Connection-String header");
  let url: URL;
  try {
    url = new URL(header);
  } catch {
    throw new HttpError(400, "Neon-Connection-String is not a valid URL");
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const database = decodeURIComponent(url.pathname.slice(1));
  if (!["postgres:", "postgresql:"].includes(url.protocol) || !host || !database || !url.username) {
    throw new HttpError(400, "Neon-Connection-String must be postgresql://user[:password]@host[:port]/database");
  }
  if (!opts.allowAnyHost && !LOOPBACK_HOSTS.has(host)) {
    throw new HttpError(400, `Database host ${host} is not loopback; start the server with allowAnyHost to permit it`);
  }
  const config: pg.PoolConfig = {
    host,
    port: url.port ? Number(url.port) : 5432,
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database,
    max: opts.maxConnections ?? 10,
    connectionTimeoutMillis: POOL_WAIT_TIMEOUT_MS,
    idleTimeoutMillis: 10_000,
    application_name: "neon-http-server",
    Client: TimedClient,
    // Neon sessions run in UTC; match it so date arithmetic in SQL behaves the same locally.
    onConnect: async (client) => {
      await client.query("SET TIME ZONE 'UTC'");
    },
  };
  // sslmode, application_name, options etc. are deliberately ignored: TLS is Neon's concern, not ours.
  const application = url.searchParams.get("application_name") ?? undefined;
  return { key: `${config.user}:${config.password}@${host}:${config.port}/${database}`, database, application, config };
}

function parseSqlBody(raw: string): SqlQuery | SqlQuery[] {
  const body = parseJson(raw);
  if (isRecord(body) && Array.isArray(body.queries)) return body.queries.map(parseQuery);
  return parseQuery(body);
}

function parseQuery(value: unknown): SqlQuery {
  if (!isRecord(value) || typeof value.query !== "string") {
    throw new HttpError(400, 'Body must be {"query": string, "params"?: array} or {"queries": [...]}');
  }
  const params = value.params ?? [];
  if (!Array.isArray(params)) throw new HttpError(400, '"params" must be an array');
  return { query: value.query, params };
}

function parseFaults(raw: string): Fault {
  const body = raw === "" ? {} : parseJson(raw);
  if (!isRecord(body)) throw new HttpError(400, "Faults must be a JSON object");
  const { delayMs, failStatus, database, marker, drop, failAt, times } = body;
  if (delayMs !== undefined && (typeof delayMs !== "number" || !(delayMs >= 0))) {
    throw new HttpError(400, '"delayMs" must be a non-negative number');
  }
  if (failStatus !== undefined && (!Number.isInteger(failStatus) || Number(failStatus) < 400 || Number(failStatus) > 599)) {
    throw new HttpError(400, '"failStatus" must be an HTTP status from 400 to 599');
  }
  if (database !== undefined && typeof database !== "string") throw new HttpError(400, '"database" must be a string');
  if (marker !== undefined && (typeof marker !== "string" || marker === ""))
    throw new HttpError(400, '"marker" must be a non-empty string');
  if (drop !== undefined && typeof drop !== "boolean") throw new HttpError(400, '"drop" must be a boolean');
  if (failAt !== undefined && !FAIL_AT.includes(failAt as FailAt))
    throw new HttpError(400, `"failAt" must be one of ${FAIL_AT.join(", ")}`);
  if (failAt !== undefined && failStatus === undefined && !drop) throw new HttpError(400, '"failAt" needs "failStatus" or "drop"');
  if (times !== undefined && (!Number.isInteger(times) || Number(times) < 1))
    throw new HttpError(400, '"times" must be a positive integer');
  return {
    delayMs,
    failStatus: failStatus as number | undefined,
    database,
    marker,
    drop: drop as boolean | undefined,
    failAt: failAt as FailAt | undefined,
    times: times as number | undefined,
  };
}

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    throw new HttpError(400, "Request body is not valid JSON");
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function sendError(res: ServerResponse, err: unknown): void {
  if (err instanceof DroppedConnection) {
    res.socket?.destroy();
    return;
  }
  if (err instanceof pg.DatabaseError) {
    const body: Record<string, unknown> = { message: err.message };
    for (const field of PG_ERROR_FIELDS) if (err[field] !== undefined) body[field] = err[field];
    sendJson(res, 400, body);
    return;
  }
  if (err instanceof HttpError) {
    sendJson(res, err.status, { message: err.message });
    return;
  }
  sendJson(res, 500, { message: `neon-http-server internal error: ${err instanceof Error ? err.message : String(err)}` });
}

async function main(args: string[]): Promise<void> {
  const given = cliOption(args, "--secret") ?? process.env.NEON_HTTP_SECRET;
  const secret = given || newLocalSecret();
  const server = await startNeonHttpServer({
    host: cliOption(args, "--host") ?? "127.0.0.1",
    port: Number(cliOption(args, "--port") ?? 4444),
    secret,
    log: args.includes("--verbose") ? (line) => console.log(line) : undefined,
  });
  console.log(`neon-http-server listening on ${server.url}${given ? "" : ` (secret for NEON_HTTP_SECRET: ${secret})`}`);
  stopOnSignals(() => server.close());
}

if (isMainModule(import.meta.url)) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
