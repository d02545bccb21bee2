/**
 * The benchmark's back end, run as a CHILD process of `npm run bench` (scripts/bench/stack.ts) so the
 * load generator in the parent never shares an event loop with the servers it measures:
 *
 *   1. a database of its own for this run: `tenpo_bench_run_<epoch>_<pid>`, cloned (CREATE DATABASE …
 *      TEMPLATE) from `tenpo_bench_template`, which is migrated and seeded once and rebuilt whenever
 *      drizzle/ or the seed change. Every run starts from the same demo data; the developer database
 *      (`tenpo`, used by `npm start`) is never touched. Without a PostgreSQL: an embedded PGlite in
 *      .tenpo/bench-pglite (its data then persist across runs);
 *   2. the SQL-over-HTTP server (scripts/neon-http-server.ts), a mail sink (scripts/mail-sink.ts, free port)
 *      for order e-mails, a Stripe stand-in (scripts/stripe-standin.ts, free port) sending its events to
 *      the app's webhook route and, when Redis answers, the Upstash REST server (scripts/upstash-rest-server.ts)
 *      on Redis logical database BENCH_REDIS_DB (default 13), flushed first, so no cache entry of `npm start` or the tests (database 0) is shared; and, when
 *      Redis answers (also with --kv-cache), the throttles' own server (free port) on database
 *      BENCH_THROTTLE_REDIS_DB (default 14), flushed too.
 *
 * Protocol with the parent: options as JSON in argv[2]; one line `READY <json>` on stdout when up;
 * lines on stdin `{"watch": <pgid>}` name a process group (a Worker runtime child and its workerd) to
 * kill if the parent disappears (stdin closes). SIGTERM/SIGINT: close the servers, drop the run
 * database, exit.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import Redis from "ioredis";
import pg from "pg";
import { startEmbeddedPostgres } from "../embedded-postgres";
import { startMailSink } from "../mail-sink";
import { MIGRATIONS_FOLDER, migrateDatabase } from "../migrate";
import { startNeonHttpServer } from "../neon-http-server";
import { startStripeStandIn } from "../stripe-standin";
import { seedDemoData } from "../seed/loader";
import { postgresAnswers, redisAnswers, throttleRedisUrl } from "../services";
import { startUpstashRestServer } from "../upstash-rest-server";

export interface BenchServicesOptions {
  sqlPort: number;
  upstashPort: number;
  token: string;
  /** The SQL-over-HTTP server's secret for this run (the Worker's NEON_HTTP_SECRET). */
  sqlSecret: string;
  /** The key the local e-mail API (scripts/mail-sink.ts, on a free port) accepts. */
  emailApiKey: string;
  /** The Stripe stand-in's secret key and endpoint secret for this run, and where it sends events (the app's webhook route). */
  stripeSecretKey: string;
  stripeWebhookSecret: string;
  stripeWebhookUrl: string;
  /** Run the catalog cache on KV alone, even when a Redis answers (like `npm start -- --kv-cache`). */
  kvCache: boolean;
  /** Use the embedded PGlite even when a PostgreSQL answers. */
  embeddedDb: boolean;
}

export interface BenchServicesReady {
  /** The connection string the Worker gets as DATABASE_URL. */
  databaseUrl: string;
  /** The database name, as the SQL-over-HTTP server's /__stats keys it. */
  database: string;
  databaseNote: string;
  sqlUrl: string;
  cache: "upstash" | "kv";
  cacheNote: string;
  upstashUrl?: string;
  /** THROTTLE_REDIS_REST_URL: the throttles' own Upstash REST server, or absent without Redis (the binding alone). */
  throttleUrl?: string;
  /** EMAIL_API_URL: this run's own mail sink, so order e-mails never reach a running `npm start`'s. */
  emailApiUrl: string;
  /** STRIPE_API_BASE: this run's own Stripe stand-in, never a running `npm start`'s (12111). */
  stripeApiBase: string;
}

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const TEMPLATE = "tenpo_bench_template";
const RUN_PREFIX = "tenpo_bench_run_";
const STALE_RUN_S = 6 * 3600;
const REDIS_DB = Number(process.env.BENCH_REDIS_DB ?? 13);
const THROTTLE_REDIS_DB = Number(process.env.BENCH_THROTTLE_REDIS_DB ?? 14);
const log = (line: string): void => console.log(`[bench-services] ${line}`);

const cleanups: Array<() => Promise<void>> = [];
const watchedGroups = new Set<number>();

async function main(): Promise<void> {
  const opts = JSON.parse(process.argv[2] ?? "{}") as BenchServicesOptions;
  watchParent();
  const db = await prepareDatabase(opts);
  const neon = await startNeonHttpServer({ port: opts.sqlPort, maxConnections: db.maxConnections, secret: opts.sqlSecret });
  cleanups.unshift(() => neon.close());
  const mail = await startMailSink({ port: 0, apiKey: opts.emailApiKey, maxEmails: 1000 });
  cleanups.unshift(() => mail.close());
  const stripe = await startStripeStandIn({
    port: 0,
    apiKey: opts.stripeSecretKey,
    webhookSecret: opts.stripeWebhookSecret,
    webhookUrl: opts.stripeWebhookUrl,
  });
  cleanups.unshift(() => stripe.close());
  const ready: BenchServicesReady = {
    emailApiUrl: mail.sendUrl,
    stripeApiBase: stripe.url,
    databaseUrl: db.url,
    database: db.name,
    databaseNote: db.note,
    sqlUrl: neon.url,
    cache: "kv",
    cacheNote: "KV alone (no Redis)",
  };
  const redisUrl = new URL(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
  const redisPort = Number(redisUrl.port || 6379);
  const redisUp = await redisAnswers(redisUrl.hostname, redisPort);
  if (redisUp) ready.throttleUrl = await startThrottleServer(redisUrl, opts.token);
  if (opts.kvCache) {
    ready.cacheNote = "KV alone (--kv-cache)";
  } else if (redisUp) {
    redisUrl.pathname = `/${REDIS_DB}`;
    await flushDatabase(redisUrl.toString());
    const upstash = await startUpstashRestServer({ port: opts.upstashPort, token: opts.token, redisUrl: redisUrl.toString(), log });
    cleanups.unshift(() => upstash.close());
    ready.cache = "upstash";
    ready.upstashUrl = upstash.url;
    ready.cacheNote = `Redis ${redisUrl.host} database ${REDIS_DB} (flushed) through the Upstash REST server`;
  } else {
    ready.cacheNote = `KV alone (no Redis answers at ${redisUrl.host})`;
  }
  console.log(`READY ${JSON.stringify(ready)}`);
}

/** The throttles' Upstash REST server on their own flushed logical database; its URL. */
async function startThrottleServer(redisUrl: URL, token: string): Promise<string> {
  const url = throttleRedisUrl(redisUrl, THROTTLE_REDIS_DB);
  await flushDatabase(url);
  const server = await startUpstashRestServer({ port: 0, token, redisUrl: url, log });
  cleanups.unshift(() => server.close());
  log(`throttles: Redis ${redisUrl.host} database ${THROTTLE_REDIS_DB} (flushed) through ${server.url}`);
  return server.url;
}

async function flushDatabase(url: string): Promise<void> {
  const flush = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await flush.connect();
  await flush.flushdb();
  flush.disconnect();
}

interface PreparedDb {
  url: string;
  name: string;
  note: string;
  maxConnections?: number;
}

async function prepareDatabase(opts: BenchServicesOptions): Promise<PreparedDb> {
  const server = new URL(process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres");
  server.pathname = "/postgres";
  if (!opts.embeddedDb && (await postgresAnswers(server.toString()))) return cloneRunDatabase(server);

  log(`${opts.embeddedDb ? "--embedded-db" : `no PostgreSQL answers at ${server.host}`}: embedded PGlite in .tenpo/bench-pglite`);
  const embedded = await startEmbeddedPostgres({ dataDir: `${ROOT}.tenpo/bench-pglite`, log });
  cleanups.push(() => embedded.close());
  await migrateDatabase(embedded.connectionString);
  const seeded = await seedDemoData(embedded.connectionString, { onProgress: log });
  return {
    url: embedded.connectionString,
    name: "postgres",
    note: `embedded PGlite (.tenpo/bench-pglite; ${seeded.seeded ? "seeded now" : "data kept from earlier runs, orders included"})`,
    maxConnections: embedded.maxConnections,
  };
}

/** A fresh database for this run, cloned from the seeded template (built first if missing or outdated). */
async function cloneRunDatabase(server: URL): Promise<PreparedDb> {
  const admin = new pg.Client({ connectionString: server.toString() });
  await admin.connect();
  try {
    // One bench at a time builds or clones the template.
    await admin.query("select pg_advisory_lock(hashtext('tenpo-bench-template'))");
    await dropStaleRuns(admin);
    const fingerprint = `tenpo-bench ${dataFingerprint()}`;
    const found = await admin.query<{ comment: string | null }>(
      "select shobj_description(oid, 'pg_database') as comment from pg_database where datname = $1",
      [TEMPLATE],
    );
    let built = false;
    if (found.rows[0]?.comment !== fingerprint) {
      log(found.rowCount ? "template outdated (migrations or seed changed): rebuilding" : "building the template database (once)…");
      await admin.query(`drop database if exists ${TEMPLATE} with (force)`);
      await admin.query(`create database ${TEMPLATE}`);
      const templateUrl = withDatabase(server, TEMPLATE);
      await migrateDatabase(templateUrl);
      await seedDemoData(templateUrl, { onProgress: log });
      await admin.query(`comment on database ${TEMPLATE} is ${pg.escapeLiteral(fingerprint)}`);
      built = true;
    }
    const name = `${RUN_PREFIX}${Math.floor(Date.now() / 1000)}_${process.pid}`;
    await admin.query(`create database ${pg.escapeIdentifier(name)} template ${TEMPLATE}`);
    cleanups.push(() => dropDatabase(server, name));
    await admin.query("select pg_advisory_unlock(hashtext('tenpo-bench-template'))");
    return {
      url: withDatabase(server, name),
      name,
      note: `PostgreSQL ${server.host}, database ${name}, a fresh copy of ${TEMPLATE}${built ? " (template built now)" : ""}; dropped at the end`,
    };
  } finally {
    await admin.end().catch(() => {});
  }
}

/** Run databases left behind by a bench that was killed (SIGKILL), older than a few hours. */
async function dropStaleRuns(admin: pg.Client): Promise<void> {
  const { rows } = await admin.query<{ datname: string }>("select datname from pg_database where datname like $1", [`${RUN_PREFIX}%`]);
  const now = Date.now() / 1000;
  for (const { datname } of rows) {
    const epoch = Number(datname.slice(RUN_PREFIX.length).split("_")[0]);
    if (Number.isFinite(epoch) && now - epoch > STALE_RUN_S) {
      await admin.query(`drop database if exists ${pg.escapeIdentifier(datname)} with (force)`).catch(() => {});
      log(`dropped stale ${datname}`);
    }
  }
}

async function dropDatabase(server: URL, name: string): Promise<void> {
  const admin = new pg.Client({ connectionString: server.toString() });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`);
  } finally {
    await admin.end().catch(() => {});
  }
}

function withDatabase(server: URL, name: string): string {
  const url = new URL(server.toString());
  url.pathname = `/${name}`;
  return url.toString();
}

/** What the template's contents depend on: the migrations and the seed. */
function dataFingerprint(): string {
  const hash = createHash("sha256");
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir).sort()) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) walk(path);
      else hash.update(path.slice(ROOT.length)).update(readFileSync(path));
    }
  };
  walk(MIGRATIONS_FOLDER);
  walk(`${ROOT}scripts/seed`);
  // The stored password format the seed writes through.
  hash.update(readFileSync(`${ROOT}src/services/passwords.ts`));
  return hash.digest("hex").slice(0, 16);
}

/** stdin carries the process groups to guard; when it closes, the parent is gone: clean up. */
function watchParent(): void {
  const lines = createInterface({ input: process.stdin });
  lines.on("line", (line) => {
    try {
      const msg = JSON.parse(line) as { watch?: number };
      if (typeof msg.watch === "number" && msg.watch > 0) watchedGroups.add(msg.watch);
    } catch {
      // Not for us.
    }
  });
  lines.on("close", () => void shutdown(0));
}

let stopping = false;
async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  for (const group of watchedGroups) {
    try {
      process.kill(-group, "SIGTERM");
    } catch {
      // Already stopped by the parent.
    }
  }
  for (const cleanup of cleanups) await cleanup().catch((err: unknown) => log(`cleanup: ${String(err)}`));
  process.exit(code);
}

process.on("SIGTERM", () => void shutdown(0));
process.on("SIGINT", () => void shutdown(0));

main().catch((err: unknown) => {
  console.error(`[bench-services] ${err instanceof Error ? err.message : String(err)}`);
  void shutdown(1);
});
