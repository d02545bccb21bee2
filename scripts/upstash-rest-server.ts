/**
 * A local server speaking Upstash's Redis REST protocol in front of a real Redis.
 *
 * Production reaches Upstash over HTTPS with @upstash/redis. Locally and in CI the Worker uses that same
 * client pointed here, so the code paths that ship (auto-pipelining, base64 decoding, error handling) are
 * the ones tested. No npm package does this. The protocol, as @upstash/redis 1.39 sends and reads it:
 *
 *   POST /            ["SET","k","v"]                -> {"result": ...}  (Redis error: 400 {"error": "ERR ..."})
 *   POST /pipeline    [["SET","k","v"],["GET","k"]]  -> [{"result": ...} | {"error": "..."}, ...]
 *   POST /multi-exec  same shape, run atomically in MULTI/EXEC
 *   GET|POST /set/k/v path form for curl; a POST body is appended as the last argument, then ?EX=100 pairs
 *
 * With `Upstash-Encoding: base64` (the client's default) every string in a result is the base64 of its
 * bytes, except "OK", which Upstash documents as sent as-is and the client special-cases. Numbers and null
 * pass through; `result` is present even when null, since the client treats a missing one as a failure.
 * Auth is `Authorization: Bearer <token>` only, else 401 {"error": "Unauthorized"}: never in the query string,
 * where a link or an <img> on any web page could carry it. `npm start` makes a new token at every run.
 * Only programs on this machine may call: a `Host` that is not a loopback name (DNS rebinding) or a
 * foreign `Origin` (a web page) is refused with 403 (scripts/local-http.ts). Commands on the server itself
 * (FLUSHALL, CONFIG, MODULE, ...) are refused with the reason (SERVER_COMMANDS below).
 * Lua scripts may carry Upstash's own shebang flag `#!lua flags=allow-key-locking` (@upstash/ratelimit >= 2.1
 * sends it); Redis refuses flags it does not know, so it is dropped before Redis sees the script, and an
 * EVALSHA of the script as sent runs the script as forwarded.
 * Redis unreachable: 503 {"error"} at once (no offline queue) while ioredis keeps reconnecting.
 *
 * Test hooks, behind the same token; they are neither delayed, failed nor counted themselves:
 *   GET /__stats -> {requests, commands}   POST /__stats/reset
 *   POST /__faults {delayMs?, failStatus?, keyPrefix?}  later REST requests wait delayMs, then answer
 *     failStatus; with keyPrefix only requests having an argument that starts with it (tests run in
 *     parallel and share this server, so scope faults to your own keys). One fault per keyPrefix:
 *     posting replaces the fault of the same prefix and leaves the others; the longest matching
 *     prefix applies, a fault without keyPrefix to requests no prefixed fault matches.
 *   DELETE /__faults?keyPrefix=…  removes that prefix's fault; DELETE /__faults removes all (only
 *     when nothing else shares the server). Both answer {}.
 *
 * Run alone: npx tsx scripts/upstash-rest-server.ts --port 8079 [--token TOKEN] [--redis-url URL]
 * (without --token, or UPSTASH_REDIS_REST_TOKEN in the environment, it makes one and prints it).
 */
import { createHash } from "node:crypto";
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
// Default import: ioredis is CommonJS, and Vite's loader (test/global-setup.ts) sees no named `Redis` export.
import Redis from "ioredis";
import { hasBearer, HttpError, isMainModule, newLocalSecret, readBody, refuseForeignRequest, stopOnSignals } from "./local-http";

export interface UpstashRestServerOptions {
  host?: string;
  port?: number /* 0 = ephemeral */;
  redisUrl?: string /* default redis://127.0.0.1:6379 */;
  token: string;
  log?: (line: string) => void;
}
/** Since start or the last reset: REST requests, and the Redis commands they carried. */
export interface UpstashRestStats {
  requests: number;
  commands: number;
}
export interface Faults {
  delayMs?: number;
  failStatus?: number;
  keyPrefix?: string;
}
export interface UpstashRestServer {
  url: string /* http://127.0.0.1:<port> */;
  port: number;
  stats(): UpstashRestStats;
  close(): Promise<void>;
}

type Arg = string | Buffer;
type Json = string | number | null | Json[];
type Entry = { result: Json } | { error: string };
interface State {
  token: string;
  redis: Redis;
  redisUrl: string;
  stats: UpstashRestStats;
  /** By keyPrefix ("" for the fault without one). */
  faults: Map<string, Faults>;
  /** SHA1 of a script as the client sent it -> the script as forwarded, for scripts whose flags were rewritten. */
  rewrittenScripts: Map<string, string>;
}

const MAX_BODY_BYTES = 10 * 1024 * 1024;
const OK = Buffer.from("OK");
// They would block, or change the state of, the one connection every request shares; Upstash refuses them too.
const CONNECTION_COMMANDS = new Set(
  (
    "BLPOP BRPOP BRPOPLPUSH BLMOVE BLMPOP BZPOPMIN BZPOPMAX BZMPOP WAIT WAITAOF SUBSCRIBE PSUBSCRIBE SSUBSCRIBE " +
    "UNSUBSCRIBE PUNSUBSCRIBE SUNSUBSCRIBE MONITOR SELECT QUIT RESET HELLO AUTH CLIENT MULTI EXEC DISCARD WATCH " +
    "UNWATCH SYNC PSYNC"
  ).split(" "),
);
/**
 * Commands on the Redis server itself rather than on keys, and why each is refused: the Redis behind this
 * server is the machine's own, shared by npm start, the tests and the bench, and nothing sends these over
 * REST. Scripts stay allowed, because @upstash/ratelimit runs EVAL, EVALSHA and SCRIPT LOAD; Redis refuses
 * most of these inside a script itself (they carry its `noscript` flag), but not FLUSHALL, FLUSHDB, SWAPDB
 * or MIGRATE, so against a caller holding the token this list is not the wall: the token (per run, in a
 * header only) and the Host and Origin checks are. KEYS stays: it only reads, and tests clean up with it.
 */
const SERVER_COMMANDS: ReadonlyMap<string, string> = new Map([
  ["FLUSHALL", "it deletes every key of every database on this machine's Redis"],
  ["FLUSHDB", "it deletes every key of the database"],
  ["SWAPDB", "it swaps two whole databases, say the tests' and the bench's"],
  ["CONFIG", "CONFIG SET dir and dbfilename, then a save, writes files wherever Redis may write"],
  ["SAVE", "it writes the dump file, where CONFIG may have pointed it"],
  ["BGSAVE", "it writes the dump file, where CONFIG may have pointed it"],
  ["BGREWRITEAOF", "it writes the append-only file, where CONFIG may have pointed it"],
  ["MODULE", "MODULE LOAD runs a shared library inside Redis"],
  ["DEBUG", "it can crash, stall or reconfigure the server"],
  ["SHUTDOWN", "it stops this machine's Redis"],
  ["REPLICAOF", "it makes Redis replace its data with another server's"],
  ["SLAVEOF", "it makes Redis replace its data with another server's"],
  ["FAILOVER", "it hands the server's role to a replica"],
  ["MIGRATE", "it moves keys to another server"],
  ["ACL", "it changes Redis users and their passwords"],
  ["FUNCTION", "FUNCTION LOAD stores server-side code that outlives the request"],
]);

/** Why a command is refused, or undefined when it may run. */
function refusal([name, ...args]: Arg[]): string | undefined {
  const upper = String(name).toUpperCase();
  const blockingRead = upper.startsWith("XREAD") && args.some((a) => String(a).toUpperCase() === "BLOCK");
  const serverReason = SERVER_COMMANDS.get(upper);
  if (serverReason) return `ERR Command is not allowed: ${upper} (${serverReason})`;
  if (!CONNECTION_COMMANDS.has(upper) && !blockingRead) return undefined;
  return `ERR Command is not allowed: ${upper} (blocking and connection-state commands are not supported over REST)`;
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw new HttpError(400, "ERR request body is not valid JSON");
  }
}

function toCommand(value: unknown): string[] {
  if (!Array.isArray(value) || typeof value[0] !== "string") {
    throw new HttpError(400, 'ERR a command is a non-empty JSON array starting with its name, e.g. ["GET","key"]');
  }
  return value.map((arg: unknown) => {
    if (typeof arg === "string") return arg;
    if (typeof arg === "number" || typeof arg === "boolean") return String(arg);
    throw new HttpError(400, `ERR command arguments must be strings or numbers, got ${JSON.stringify(arg)}`);
  });
}

function toBatch(value: unknown): string[][] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new HttpError(400, 'ERR body must be a non-empty JSON array of commands, e.g. [["SET","k","v"],["GET","k"]]');
  }
  return value.map(toCommand);
}

/** Path form: /set/k/v?EX=100 -> SET k v EX 100, with a POST body as the value after the path segments. */
function pathCommand(url: URL, method: string, body: Buffer): Arg[] {
  let args: Arg[];
  try {
    args = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
  } catch {
    throw new HttpError(400, `ERR malformed URL escape in ${url.pathname}`);
  }
  if (args.length === 0) throw new HttpError(400, "ERR no command: POST a JSON array to / or use /COMMAND/arg1/arg2");
  if (method === "POST" && body.length > 0) args.push(body);
  for (const [key, value] of url.searchParams) args.push(key, ...(value ? [value] : []));
  return args;
}

/**
 * Turns an ioredis buffer reply into JSON the way Upstash does. "OK" stays plain only as a whole result:
 * the client special-cases it there, but inside arrays it would base64-decode "OK" into garbage.
 */
function encode(reply: unknown, base64: boolean, nested = false): Json {
  if (reply === null || reply === undefined) return null;
  if (typeof reply === "number") return reply;
  if (Array.isArray(reply)) return reply.map((item) => encode(item, base64, true));
  if (reply instanceof Error) return encode(reply.message, base64, nested); // an error nested in a script's table reply
  const bytes = Buffer.isBuffer(reply) ? reply : Buffer.from(String(reply));
  return base64 && (nested || !bytes.equals(OK)) ? bytes.toString("base64") : bytes.toString("utf8");
}

function unreachable(err: Error, state: State): HttpError {
  return new HttpError(503, `Redis is unreachable at ${state.redisUrl}: ${err.message}`);
}

/** A Redis error becomes the command's {error}; any other failure means Redis is not reachable. */
function toEntry(err: Error | null, reply: unknown, base64: boolean, state: State): Entry {
  if (!err) return { result: encode(reply, base64) };
  if (err.name === "ReplyError") return { error: err.message };
  throw unreachable(err, state);
}

// Upper case on purpose: ioredis picks reply transformers by exact lower-case name, and its `hgetall`
// one would turn the flat [field, value, ...] array Upstash returns into an object.
const redisName = (name: Arg | undefined): string => String(name).toUpperCase();

// Flags only Upstash understands: accepted there, unknown to Redis, which refuses the script.
const UPSTASH_ONLY_SCRIPT_FLAGS = new Set(["allow-key-locking"]);
const SHEBANG_FLAGS = /^#!lua flags=([^\n]*)/;

/** The script without Upstash-only flags (same line count), or undefined when it has none. */
function withoutUpstashOnlyFlags(script: string): string | undefined {
  const match = SHEBANG_FLAGS.exec(script);
  if (!match) return undefined;
  const flags = match[1]!.split(",").map((f) => f.trim());
  if (!flags.some((f) => UPSTASH_ONLY_SCRIPT_FLAGS.has(f))) return undefined;
  const kept = flags.filter((f) => f && !UPSTASH_ONLY_SCRIPT_FLAGS.has(f));
  return (kept.length > 0 ? `#!lua flags=${kept.join(",")}` : "#!lua") + script.slice(match[0].length);
}

/** EVAL / SCRIPT LOAD / EVALSHA with Upstash-only script flags turned into what Redis accepts. */
function forRedis(command: Arg[], state: State): Arg[] {
  const [name, ...args] = command;
  const upper = String(name).toUpperCase();
  const isLoad = upper === "SCRIPT" && String(args[0]).toUpperCase() === "LOAD";
  if (upper === "EVAL" || upper === "EVAL_RO" || isLoad) {
    const at = isLoad ? 2 : 1;
    const script = String(command[at] ?? "");
    const rewritten = withoutUpstashOnlyFlags(script);
    if (rewritten === undefined) return command;
    state.rewrittenScripts.set(createHash("sha1").update(script).digest("hex"), rewritten);
    return [...command.slice(0, at), rewritten, ...command.slice(at + 1)];
  }
  if (upper === "EVALSHA" || upper === "EVALSHA_RO") {
    const rewritten = state.rewrittenScripts.get(String(args[0]).toLowerCase());
    // The client hashed the script it sent; Redis knows it by the hash of what it got.
    if (rewritten !== undefined) return [upper === "EVALSHA" ? "EVAL" : "EVAL_RO", rewritten, ...args.slice(1)];
  }
  return command;
}

/** SCRIPT LOAD answers the SHA1 of the script as the client sent it, which is what it will EVALSHA. */
function loadedSha(command: Arg[], entry: Entry, base64: boolean): Entry {
  const isLoad = String(command[0]).toUpperCase() === "SCRIPT" && String(command[1]).toUpperCase() === "LOAD";
  if (!isLoad || "error" in entry || withoutUpstashOnlyFlags(String(command[2] ?? "")) === undefined) return entry;
  return { result: encode(createHash("sha1").update(String(command[2])).digest("hex"), base64) };
}

async function runOne([name, ...args]: Arg[], base64: boolean, state: State): Promise<Entry> {
  const refused = refusal([name ?? "", ...args]);
  if (refused) return { error: refused };
  const [err, reply] = await state.redis.callBuffer(redisName(name), ...args).then(
    (value: unknown) => [null, value] as const,
    (e: Error) => [e, null] as const,
  );
  return toEntry(err, reply, base64, state);
}

async function runBatch(commands: Arg[][], atomic: boolean, base64: boolean, state: State): Promise<Entry[]> {
  const refused = commands.map(refusal);
  const firstRefused = refused.find(Boolean);
  if (atomic && firstRefused) throw new HttpError(400, firstRefused);
  const batch = atomic ? state.redis.multi() : state.redis.pipeline();
  commands.forEach(([name, ...args], i) => {
    if (!refused[i]) batch.callBuffer(redisName(name), ...args);
  });
  let replies: [Error | null, unknown][];
  try {
    replies = (await batch.exec()) ?? [];
  } catch (err) {
    // EXECABORT (a command failed to queue) rejects the whole transaction, as it does in Redis.
    throw (err as Error).name === "ReplyError" ? new HttpError(400, (err as Error).message) : unreachable(err as Error, state);
  }
  let next = 0;
  return refused.map((reason) => {
    if (reason) return { error: reason };
    const [err, reply] = replies[next++] ?? [null, null];
    return toEntry(err, reply, base64, state);
  });
}

async function injectFaults(commands: Arg[][], faults: Map<string, Faults>): Promise<void> {
  let fault: Faults | undefined;
  for (const candidate of faults.values()) {
    const { keyPrefix } = candidate;
    if (keyPrefix !== undefined && !commands.some((c) => c.slice(1).some((a) => String(a).startsWith(keyPrefix)))) continue;
    if (!fault || (keyPrefix ?? "").length > (fault.keyPrefix ?? "").length) fault = candidate;
  }
  if (!fault) return;
  const { delayMs, failStatus } = fault;
  if (delayMs) await sleep(delayMs);
  if (failStatus) throw new HttpError(failStatus, `Injected fault: HTTP ${failStatus}`);
}

function parseFaults(value: unknown): Faults {
  const { delayMs, failStatus, keyPrefix } = (value ?? {}) as Faults;
  const ok =
    typeof value === "object" &&
    !Array.isArray(value) &&
    (delayMs === undefined || (typeof delayMs === "number" && delayMs >= 0 && delayMs <= 60_000)) &&
    (failStatus === undefined || (Number.isInteger(failStatus) && failStatus >= 400 && failStatus <= 599)) &&
    (keyPrefix === undefined || (typeof keyPrefix === "string" && keyPrefix !== ""));
  if (!ok) throw new HttpError(400, "ERR faults are {delayMs?: 0..60000, failStatus?: 400..599, keyPrefix?: string}");
  return { delayMs, failStatus, keyPrefix };
}

/** The /__ test hooks. */
function control(route: string, body: Buffer, state: State, query: URLSearchParams): unknown {
  if (route === "GET /__stats") return { ...state.stats };
  if (route === "POST /__stats/reset") return (state.stats = { requests: 0, commands: 0 });
  if (route === "POST /__faults") {
    const fault = parseFaults(parseJson(body));
    state.faults.set(fault.keyPrefix ?? "", fault);
    return fault;
  }
  if (route === "DELETE /__faults") {
    const keyPrefix = query.get("keyPrefix");
    if (keyPrefix !== null) state.faults.delete(keyPrefix);
    else state.faults.clear();
    return {};
  }
  throw new HttpError(404, `Not found: ${route}`);
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(json) });
  res.end(json);
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse, state: State): Promise<void> {
  const method = req.method ?? "GET";
  const url = new URL(req.url ?? "/", "http://localhost");
  const { pathname } = url;
  refuseForeignRequest(req);
  if (!hasBearer(req, state.token)) return send(res, 401, { error: "Unauthorized" });
  const body = await readBody(req, MAX_BODY_BYTES);
  if (pathname.startsWith("/__")) return send(res, 200, control(`${method} ${pathname}`, body, state, url.searchParams));
  if (!["GET", "HEAD", "POST", "PUT"].includes(method)) throw new HttpError(405, `Method ${method} not allowed`);

  state.stats.requests++;
  const isBatch = pathname === "/pipeline" || pathname === "/multi-exec";
  if (isBatch && method !== "POST") throw new HttpError(405, `${pathname} takes POST`);
  const commands: Arg[][] = isBatch
    ? toBatch(parseJson(body))
    : [pathname === "/" && method === "POST" ? toCommand(parseJson(body)) : pathCommand(url, method, body)];
  state.stats.commands += commands.length;
  await injectFaults(commands, state.faults);

  const base64 = req.headers["upstash-encoding"] === "base64";
  const forwarded = commands.map((command) => forRedis(command, state));
  if (isBatch) {
    const entries = await runBatch(forwarded, pathname === "/multi-exec", base64, state);
    return send(
      res,
      200,
      entries.map((entry, i) => loadedSha(commands[i]!, entry, base64)),
    );
  }
  const entry = loadedSha(commands[0] ?? [], await runOne(forwarded[0] ?? [], base64, state), base64);
  send(res, "error" in entry ? 400 : 200, entry);
}

function connectRedis(redisUrl: string, log: (line: string) => void): Redis {
  const redis = new Redis(redisUrl, {
    protocol: 2, // Upstash answers in RESP2 shapes: flat arrays for hashes, strings for doubles
    connectTimeout: 1000,
    commandTimeout: 10_000,
    enableOfflineQueue: false, // fail fast while Redis is away instead of queueing requests
    maxRetriesPerRequest: 0,
    retryStrategy: (times) => Math.min(times * 100, 1000), // never give up: recover when Redis returns
  });
  let down = false;
  redis.on("error", (err: Error) => {
    if (!down) log(`Redis at ${redisUrl} is unreachable (${err.message}); answering 503 until it returns`);
    down = true;
  });
  redis.on("ready", () => {
    if (down) log(`Redis at ${redisUrl} is back`);
    down = false;
  });
  return redis;
}

export async function startUpstashRestServer(opts: UpstashRestServerOptions): Promise<UpstashRestServer> {
  if (!opts.token) throw new Error("startUpstashRestServer: a token is required");
  const host = opts.host ?? "127.0.0.1";
  const redisUrl = opts.redisUrl ?? "redis://127.0.0.1:6379";
  const log = opts.log ?? ((line: string) => console.log(`[upstash-rest] ${line}`));
  const redis = connectRedis(redisUrl, log);
  const state: State = {
    token: opts.token,
    redis,
    redisUrl,
    stats: { requests: 0, commands: 0 },
    faults: new Map(),
    rewrittenScripts: new Map(),
  };

  const server = http.createServer((req, res) => {
    handle(req, res, state).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      if (status === 500) log(`internal error: ${(err as Error).stack ?? String(err)}`);
      if (!res.headersSent) send(res, status, { error: (err as Error).message });
    });
  });
  try {
    server.listen(opts.port ?? 0, host);
    await once(server, "listening");
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  // Without an offline queue, requests arriving before the first connection would get 503s.
  await once(redis, "ready", { signal: AbortSignal.timeout(3000) }).catch(() => {});

  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    port,
    stats: () => ({ ...state.stats }),
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections(); // the client keeps connections alive; don't wait for them to idle out
      await closed;
      redis.disconnect();
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { host: { type: "string" }, port: { type: "string" }, token: { type: "string" }, "redis-url": { type: "string" } },
  });
  const given = values.token ?? process.env.UPSTASH_REDIS_REST_TOKEN;
  const token = given || newLocalSecret();
  const redisUrl = values["redis-url"] ?? "redis://127.0.0.1:6379";
  const server = await startUpstashRestServer({ host: values.host, port: Number(values.port ?? 8079), redisUrl, token });
  console.log(`Upstash REST server listening on ${server.url} (Redis ${redisUrl})${given ? "" : `; token: ${token}`}`);
  stopOnSignals(() => server.close());
}

if (isMainModule(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
