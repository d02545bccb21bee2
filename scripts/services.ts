/**
 * Finding the local services the stack needs: is a PostgreSQL / Redis answering, and creating
 * databases. Shared by `npm start`, the test setup and the benchmark.
 */
import net from "node:net";
// Default import: ioredis is CommonJS, and Vite's loader (test/global-setup.ts) sees no named `Redis` export.
import Redis from "ioredis";
import pg from "pg";

/**
 * The login and registration throttles' Redis locally: logical database 1 of the same Redis, behind a
 * second Upstash REST server. Deployed it is an Upstash database of its own; a logical database of its
 * own here keeps that separation (flushing, scanning or faulting one never touches the other, and each
 * server has its own connection and its own /__faults and /__stats).
 */
export const THROTTLE_REDIS_DB = 1;

/** The URL of the throttle's logical database on the Redis at `redisUrl`. */
export function throttleRedisUrl(redisUrl: string | URL, database = THROTTLE_REDIS_DB): string {
  const url = new URL(redisUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/** Deletes the keys under `prefix` (SCAN, then UNLINK): a test run's own keys, never a whole database. */
export async function deleteKeysUnder(redisUrl: string, prefix: string): Promise<number> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  let deleted = 0;
  try {
    for await (const keys of redis.scanStream({ match: `${prefix}*`, count: 1000 }) as AsyncIterable<string[]>) {
      if (keys.length > 0) deleted += await redis.unlink(...keys);
    }
  } finally {
    redis.disconnect();
  }
  return deleted;
}

/** True when a PostgreSQL answers a query at this connection string within the timeout. */
export async function postgresAnswers(databaseUrl: string, timeoutMs = 3000): Promise<boolean> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: timeoutMs });
  try {
    await client.connect();
    await client.query("select 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** True when a Redis at host:port answers PING with PONG. Speaks RESP directly: one line each way. */
export function redisAnswers(host = "127.0.0.1", port = 6379, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (chunk) => done(chunk.toString().startsWith("+PONG")));
  });
}

/** Creates the database named in `databaseUrl` when it does not exist yet. */
export function ensureDatabase(databaseUrl: string): Promise<"created" | "exists"> {
  return onServerOf(databaseUrl, async (admin, name) => {
    const found = await admin.query("select 1 from pg_database where datname = $1", [name]);
    if (found.rowCount) return "exists";
    await admin.query(`create database ${pg.escapeIdentifier(name)}`);
    return "created";
  });
}

/** Drops the database named in `databaseUrl`, closing any connection still open to it. */
export function dropDatabase(databaseUrl: string): Promise<void> {
  return onServerOf(databaseUrl, async (admin, name) => {
    await admin.query(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`);
  });
}

/** Runs `work` on a connection to the `postgres` database of the server `databaseUrl` names. */
async function onServerOf<T>(databaseUrl: string, work: (admin: pg.Client, name: string) => Promise<T>): Promise<T> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  url.pathname = "/postgres";
  const admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    return await work(admin, name);
  } finally {
    await admin.end();
  }
}

/** The environment that keeps `wrangler dev` offline and quiet: no telemetry, no Cloudflare lookups, no banner. */
export const OFFLINE_WRANGLER_ENV = {
  WRANGLER_SEND_METRICS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_HIDE_BANNER: "true",
} as const;

/** A TCP port that was free a moment ago, for servers whose port must be known before they start. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Whether a process with this pid exists (EPERM: it does, and belongs to someone else). */
export function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
