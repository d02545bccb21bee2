/**
 * `npm start`: the whole API on this machine, offline, in one command, served the way production serves it.
 *
 *   1. finds PostgreSQL (DATABASE_URL, else 127.0.0.1:5432) or falls back to an embedded PGlite in .tenpo/;
 *   2. finds Redis (REDIS_URL, else 127.0.0.1:6379) or runs the cache on KV alone and the throttles on
 *      the rate limiting binding alone;
 *   3. migrates, loads the demo data once, starts the SQL-over-HTTP and Upstash REST servers (one for
 *      the catalog cache, one for the login and registration throttles, on Redis logical database 1),
 *      each with a secret made for this run (the SQL server's NEON_HTTP_SECRET, the Upstash tokens)
 *      that only the Worker is given: nothing secret is written to disk;
 *   4. builds the production bundle (`wrangler deploy --dry-run`) and serves it on workerd through
 *      Miniflare (scripts/worker-runtime.ts: KV, Cache API, Queues with their consumers, Analytics
 *      Engine, the cron on its schedule; no development proxy) on http://127.0.0.1:8787, and waits
 *      until /health/ready answers 200.
 *   Also the metrics sink (scripts/metrics-sink.ts, port 8026): every request's data point goes to
 *   .tenpo/metrics.jsonl, which `npm run metrics` summarises.
 *   Also the mail sink (scripts/mail-sink.ts, port 8025): order confirmation e-mails land there, readable
 *   at http://127.0.0.1:8025/.
 *   Also the Stripe stand-in (scripts/stripe-standin.ts, port 12111, STRIPE_PORT to change): Stripe's REST
 *   API in test mode for the Worker's SDK, with the key and endpoint secret of .dev.vars; it sends its
 *   signed events to the API's /api/v1/webhooks/stripe, as Stripe would.
 *   The Worker's own log lines (one JSON line per request, Workers Logs in production) go to
 *   .tenpo/worker.log; warnings and errors are also printed here.
 * Ctrl-C stops everything it started.
 *
 *   npm run dev                  the same local stack, but `wrangler dev`: reloads on every edit of src/
 *                                and prints a line per request (a development server, ~15× slower)
 *   npm start -- --embedded-db   use the embedded PGlite even when a PostgreSQL answers
 *   npm start -- --kv-cache      run the cache on KV alone even when a Redis answers
 */
import { spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, createWriteStream, existsSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "./embedded-postgres";
import { migrateDatabase, redact } from "./migrate";
import { startNeonHttpServer, type NeonHttpServer } from "./neon-http-server";
import { startMetricsSink, type MetricsSink } from "./metrics-sink";
import { startMailSink } from "./mail-sink";
import { DEFAULT_STRIPE_PORT, DEFAULT_STRIPE_SECRET_KEY, DEFAULT_STRIPE_WEBHOOK_SECRET, startStripeStandIn } from "./stripe-standin";
import { seedDemoData } from "./seed/loader";
import { ensureDatabase, OFFLINE_WRANGLER_ENV, postgresAnswers, redisAnswers, THROTTLE_REDIS_DB, throttleRedisUrl } from "./services";
import { startUpstashRestServer, type UpstashRestServer } from "./upstash-rest-server";
import { newLocalSecret } from "./local-http";
import { stopChild } from "./lib/children";
import { readDevVars } from "./lib/dev-vars";
import { waitUntilReady } from "./lib/wait-ready";
import { LOGIN_FALLBACK_ATTEMPTS_PER_MINUTE, REGISTER_FALLBACK_ATTEMPTS_PER_MINUTE } from "../src/services/throttle-policy";
import { startWorkerRuntime } from "./worker-runtime";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const API_HOST = "127.0.0.1";
const API_PORT = Number(process.env.PORT ?? 8787);
const NEON_HTTP_PORT = Number(process.env.NEON_HTTP_PORT ?? 4444);
const UPSTASH_PORT = Number(process.env.UPSTASH_PORT ?? 8079);
const THROTTLE_UPSTASH_PORT = Number(process.env.THROTTLE_UPSTASH_PORT ?? 8078);
const METRICS_SINK_PORT = Number(process.env.METRICS_SINK_PORT ?? 8026);
const MAIL_SINK_PORT = Number(process.env.MAIL_SINK_PORT ?? 8025);
const STRIPE_PORT = Number(process.env.STRIPE_PORT ?? DEFAULT_STRIPE_PORT);
/** Miniflare's own entry port, for /cdn-cgi/handler/scheduled (firing the cron by hand). */
const CONTROL_PORT = Number(process.env.CONTROL_PORT ?? 8788);
const DEFAULT_EMAIL_API_KEY = "tenpo-local-mail-key";
const DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/tenpo";
/** The Upstash token .dev.vars.example once shipped: published, so it counts as unset. */
const PUBLISHED_UPSTASH_TOKEN = "tenpo-local-token";
const READY_TIMEOUT_MS = 90_000;
/** How `npm start` waits for the API: /health/ready polled every 250 ms for 90 s. */
const READINESS = { url: `http://${API_HOST}:${API_PORT}/health/ready`, timeoutMs: READY_TIMEOUT_MS, pollMs: 250 };
const FORCE_EMBEDDED_DB = process.argv.includes("--embedded-db");
const FORCE_KV_CACHE = process.argv.includes("--kv-cache");
/** `npm run dev`: wrangler dev instead of the production bundle. */
const DEV_SERVER = process.argv.includes("--dev");

type Stoppable = { name: string; stop: () => Promise<void> };
const running: Stoppable[] = [];
const log = (line: string) => console.log(`[tenpo] ${line}`);
/** --var flags for wrangler dev that point the Worker at the local mail sink (set in main). */
const mailVars: Record<string, string> = {};
/** Likewise for the Stripe stand-in: its base URL, key and endpoint secret (set in main). */
const stripeVars: Record<string, string> = {};

async function main(): Promise<void> {
  const started = performance.now();
  checkNodeVersion();
  ensureDevVars();

  const databaseUrl = await findDatabase();
  log("applying migrations…");
  await migrateDatabase(databaseUrl.url);
  const seeded = await seedDemoData(databaseUrl.url, { onProgress: (msg) => log(msg) });
  log(seeded.seeded ? "demo data loaded" : "demo data already present");
  if (seeded.generatedAdminPassword)
    log(`admin@example.com's password is ${seeded.generatedAdminPassword} (generated for this remote database; keep it now)`);

  const neonSecret = newLocalSecret();
  const neon = await startNeonHttpServer({ port: NEON_HTTP_PORT, maxConnections: databaseUrl.maxConnections, secret: neonSecret });
  running.push({ name: "SQL-over-HTTP server", stop: () => neon.close() });
  log(`SQL-over-HTTP server on ${neon.url}`);

  const cache = await findCache();
  const throttle = await findThrottleStore();
  const metrics = await startMetricsSink({ port: METRICS_SINK_PORT, file: `${ROOT}/.tenpo/metrics.jsonl` });
  running.push({ name: "metrics sink", stop: () => metrics.close() });
  log(`metrics sink on ${metrics.url} → .tenpo/metrics.jsonl (npm run metrics)`);
  // The key the Worker sends (.dev.vars EMAIL_API_KEY) is the one the sink accepts; also passed as a --var
  // so that a .dev.vars from before e-mails existed still works.
  const emailApiKey = readDevVar("EMAIL_API_KEY") ?? DEFAULT_EMAIL_API_KEY;
  const mail = await startMailSink({ port: MAIL_SINK_PORT, apiKey: emailApiKey });
  running.push({ name: "mail sink", stop: () => mail.close() });
  Object.assign(mailVars, { EMAIL_API_URL: mail.sendUrl, EMAIL_API_KEY: emailApiKey });
  log(`mail sink on ${mail.url}: order e-mails are kept there, read them at ${mail.url}/ or ${mail.sendUrl}?to=<address>`);
  // The stand-in accepts the key the Worker sends and signs with the secret the Worker checks (.dev.vars),
  // both also passed as --vars like the mail key; its events go to the API's webhook route.
  const stripeSecretKey = readDevVar("STRIPE_SECRET_KEY") || DEFAULT_STRIPE_SECRET_KEY;
  const stripeWebhookSecret = readDevVar("STRIPE_WEBHOOK_SECRET") || DEFAULT_STRIPE_WEBHOOK_SECRET;
  const webhookUrl = `http://${API_HOST}:${API_PORT}/api/v1/webhooks/stripe`;
  const stripe = await startStripeStandIn({ port: STRIPE_PORT, apiKey: stripeSecretKey, webhookSecret: stripeWebhookSecret, webhookUrl });
  running.push({ name: "Stripe stand-in", stop: () => stripe.close() });
  Object.assign(stripeVars, {
    STRIPE_API_BASE: stripe.url,
    STRIPE_SECRET_KEY: stripeSecretKey,
    STRIPE_WEBHOOK_SECRET: stripeWebhookSecret,
  });
  log(
    `Stripe stand-in on ${stripe.url}: test-mode payments (confirm with pm_card_visa or pm_card_chargeDeclined); signed events to ${webhookUrl}`,
  );
  const vars = workerVars({ databaseUrl: databaseUrl.url, neon, neonSecret, cache, throttle, metrics });
  let cronHint: string;
  if (DEV_SERVER) {
    const wrangler = startWrangler(vars);
    running.push({ name: "wrangler dev", stop: () => stopChild(wrangler, { terminate: "group", killAfterMs: 5000 }) });
    await waitUntilReady({ ...READINESS, alive: () => wrangler.exitCode === null });
    cronHint = `curl "http://${API_HOST}:${API_PORT}/__scheduled?cron=*/2+*+*+*+*"`;
  } else {
    const worker = await startProductionWorker(vars);
    await waitUntilReady(READINESS);
    cronHint = `curl "${worker.controlUrl}/cdn-cgi/handler/scheduled?cron=*/2+*+*+*+*"; on its own: ${worker.crons.join(", ")} (UTC)`;
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  log(`ready in ${seconds} s: http://${API_HOST}:${API_PORT}  (try /health/ready, /api/v1/products, /docs)`);
  log(`order e-mails: ${mailVars.EMAIL_API_URL?.replace(/\/emails$/, "/")}  (cron: ${cronHint})`);
  log("press Ctrl-C to stop");
}

function checkNodeVersion(): void {
  const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
  if (major < 20 || (major === 20 && minor < 11)) {
    throw new Error(`Node.js >= 20.11 is needed, this is ${process.versions.node}`);
  }
}

function ensureDevVars(): void {
  if (existsSync(`${ROOT}/.dev.vars`)) return;
  copyFileSync(`${ROOT}/.dev.vars.example`, `${ROOT}/.dev.vars`);
  log("created .dev.vars from .dev.vars.example (local secrets; git-ignored)");
}

/** PostgreSQL if one answers, else the embedded PGlite. */
async function findDatabase(): Promise<{ url: string; maxConnections?: number }> {
  const url = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
  const server = new URL(url);
  server.pathname = "/postgres";
  if (!FORCE_EMBEDDED_DB && (await postgresAnswers(server.toString()))) {
    const state = await ensureDatabase(url);
    log(`database: PostgreSQL at ${redact(url)}${state === "created" ? " (created)" : ""}`);
    return { url };
  }
  if (process.env.DATABASE_URL && !FORCE_EMBEDDED_DB) {
    throw new Error(`DATABASE_URL is set but nothing answers at ${redact(url)}`);
  }
  log(
    FORCE_EMBEDDED_DB
      ? "--embedded-db: using the embedded PGlite in .tenpo/pglite"
      : `no PostgreSQL answers at ${server.host}: using the embedded PGlite in .tenpo/pglite`,
  );
  const embedded: EmbeddedPostgres = await startEmbeddedPostgres({ dataDir: `${ROOT}/.tenpo/pglite`, log });
  running.push({ name: "embedded PGlite", stop: () => embedded.close() });
  return { url: embedded.connectionString, maxConnections: embedded.maxConnections };
}

type CacheChoice = { backend: "upstash"; server: UpstashRestServer; token: string } | { backend: "kv" };

/** Redis (through the local Upstash REST server) if one answers, else KV alone. */
async function findCache(): Promise<CacheChoice> {
  const redisUrl = new URL(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
  if (FORCE_KV_CACHE || !(await redisAnswers(redisUrl.hostname, Number(redisUrl.port || 6379)))) {
    log(
      FORCE_KV_CACHE
        ? "--kv-cache: the catalog cache runs on KV alone"
        : `no Redis answers at ${redisUrl.host}: the catalog cache runs on KV alone`,
    );
    return { backend: "kv" };
  }
  // A token of the developer's own in .dev.vars is kept; otherwise a new one for this run.
  const own = readDevVar("UPSTASH_REDIS_REST_TOKEN");
  const token = own && own !== PUBLISHED_UPSTASH_TOKEN ? own : newLocalSecret();
  const server = await startUpstashRestServer({ port: UPSTASH_PORT, token, redisUrl: redisUrl.toString() });
  running.push({ name: "Upstash REST server", stop: () => server.close() });
  log(`cache: Redis at ${redisUrl.host} through the Upstash REST server on ${server.url}`);
  return { backend: "upstash", server, token };
}

type ThrottleChoice = { server: UpstashRestServer; token: string } | null;

/**
 * The throttles' own Redis (logical database THROTTLE_REDIS_DB, a second Upstash REST server) when a Redis
 * answers, whatever the catalog cache runs on; else none, and the throttles count on the binding alone.
 */
async function findThrottleStore(): Promise<ThrottleChoice> {
  const redisUrl = new URL(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
  if (!(await redisAnswers(redisUrl.hostname, Number(redisUrl.port || 6379)))) {
    log(
      `no Redis answers at ${redisUrl.host}: the login and registration throttles count on the rate limiting binding alone ` +
        `(${LOGIN_FALLBACK_ATTEMPTS_PER_MINUTE} login attempts per account a minute, right passwords too; ` +
        `${REGISTER_FALLBACK_ATTEMPTS_PER_MINUTE} registrations per client a minute)`,
    );
    return null;
  }
  // As for the cache's server: a token of the developer's own in .dev.vars is kept; otherwise a new one for this run.
  const token = readDevVar("THROTTLE_REDIS_REST_TOKEN") || newLocalSecret();
  const server = await startUpstashRestServer({
    port: THROTTLE_UPSTASH_PORT,
    token,
    redisUrl: throttleRedisUrl(redisUrl),
    log: (line) => console.log(`[throttle-rest] ${line}`),
  });
  running.push({ name: "throttle Upstash REST server", stop: () => server.close() });
  log(`login throttle: Redis at ${redisUrl.host} database ${THROTTLE_REDIS_DB} through a second Upstash REST server on ${server.url}`);
  return { server, token };
}

function readDevVar(name: string): string | undefined {
  return readDevVars(ROOT)[name];
}

/** What the Worker gets on top of wrangler.toml and .dev.vars: where the local stack listens. */
function workerVars(opts: {
  databaseUrl: string;
  neon: NeonHttpServer;
  neonSecret: string;
  cache: CacheChoice;
  throttle: ThrottleChoice;
  metrics: MetricsSink;
}): Record<string, string> {
  const vars: Record<string, string> = {
    DATABASE_URL: opts.databaseUrl,
    NEON_HTTP_ENDPOINT: opts.neon.url,
    NEON_HTTP_SECRET: opts.neonSecret,
    CACHE_BACKEND: opts.cache.backend,
    METRICS_SINK_URL: opts.metrics.url,
    ...mailVars,
    ...stripeVars,
  };
  // LOG_REQUESTS=false npm start: no JSON line per request (failed requests still log).
  if (process.env.LOG_REQUESTS) vars.LOG_REQUESTS = process.env.LOG_REQUESTS;
  if (opts.cache.backend === "upstash") {
    vars.UPSTASH_REDIS_REST_URL = opts.cache.server.url;
    vars.UPSTASH_REDIS_REST_TOKEN = opts.cache.token;
  }
  // No Redis: an empty URL tells the throttles at once, instead of a connection refused per login.
  vars.THROTTLE_REDIS_REST_URL = opts.throttle?.server.url ?? "";
  if (opts.throttle) vars.THROTTLE_REDIS_REST_TOKEN = opts.throttle.token;
  return vars;
}

/**
 * The production bundle on workerd (scripts/worker-runtime.ts). Its console goes to .tenpo/worker.log
 * as is (a pipe, no parsing per line); lines at warn or error level are echoed to this terminal.
 */
async function startProductionWorker(vars: Record<string, string>) {
  mkdirSync(`${ROOT}/.tenpo`, { recursive: true });
  const workerLog = createWriteStream(`${ROOT}/.tenpo/worker.log`, { flags: "a" });
  running.push({ name: "worker log", stop: () => new Promise<void>((resolve) => workerLog.end(() => resolve())) });
  log(`building the production bundle and starting workerd on http://${API_HOST}:${API_PORT}…`);
  const worker = await startWorkerRuntime({
    root: ROOT,
    host: API_HOST,
    port: API_PORT,
    controlPort: CONTROL_PORT,
    vars,
    persistTo: `${ROOT}/.wrangler/state/v3`,
    onOutput: (stream, chunk) => {
      workerLog.write(chunk);
      if (stream === "stderr" || chunk.includes('"level":"warn"') || chunk.includes('"level":"error"')) echoNotable(chunk);
    },
    log,
  });
  running.push({ name: "workerd", stop: () => worker.stop() });
  log(`the Worker's log lines: .tenpo/worker.log (one JSON line per request; warnings and errors also here)`);
  return worker;
}

/** The warn and error lines of a chunk of the Worker's output, printed to this terminal. */
function echoNotable(chunk: Buffer): void {
  for (const line of chunk.toString().split("\n")) {
    if (line && !line.includes('"level":"info"') && !line.includes('"level":"debug"')) console.error(line);
  }
}

function startWrangler(vars: Record<string, string>): ChildProcess {
  const args = ["wrangler", "dev", "--ip", API_HOST, "--port", String(API_PORT), "--show-interactive-dev-session=false"];
  // /__scheduled fires the cron by hand (wrangler dev runs no cron on its own).
  args.push("--test-scheduled");
  for (const [name, value] of Object.entries(vars)) args.push("--var", `${name}:${value}`);
  log(`starting wrangler dev on http://${API_HOST}:${API_PORT}…`);
  const child = spawn("npx", args, {
    cwd: ROOT,
    stdio: ["ignore", "inherit", "inherit"],
    // Its own process group, so stopping it also stops the workerd processes it spawns.
    detached: true,
    env: {
      ...process.env,
      ...OFFLINE_WRANGLER_ENV,
    },
  });
  child.once("exit", (code, signal) => {
    if (!stopping) {
      console.error(`[tenpo] wrangler dev exited (${signal ?? code}); stopping`);
      void shutdown(1);
    }
  });
  return child;
}

let stopping = false;
async function shutdown(exitCode: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  // Last started, first stopped: the Worker before the servers it talks to.
  for (const item of running.reverse()) {
    await item.stop().catch((err: unknown) => console.error(`[tenpo] stopping ${item.name}: ${String(err)}`));
  }
  log("stopped");
  process.exit(exitCode);
}

process.on("SIGINT", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));

main().catch((err: unknown) => {
  console.error(`[tenpo] cannot start: ${err instanceof Error ? err.message : String(err)}`);
  void shutdown(1);
});
