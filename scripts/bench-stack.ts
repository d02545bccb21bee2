/**
 * The stack in its benchmark configuration, for `npm run bench` (scripts/bench.ts).
 *
 * What differs from `npm start` (scripts/start.ts), and why:
 *   - own ports (API 8797, SQL-over-HTTP 4454, Upstash REST 8089, a free inspector port; the next free
 *     port when one is taken), so a running `npm start` (8787/4444/8079) is never disturbed;
 *   - `wrangler dev --log-level warn`: no line printed per request (that alone halves a hello-world's
 *     throughput, shared/notes/local-serving-paths.md); wrangler's output goes to a log file;
 *   - `--var LOG_REQUESTS:false`: the Worker's own per-request JSON log line off (failed requests
 *     still log); `METRICS_SINK_URL` left at wrangler.toml's empty default: no metrics sink (npm start runs scripts/metrics-sink.ts,
 *     which appends every request's data point to .tenpo/metrics.jsonl);
 *   - order e-mails go to a mail sink of the bench's own (free port), not to npm start's on 8025;
 *   - a snapshot of the working tree in a temporary folder: wrangler watches its sources, and other
 *     people editing src/ during a run would otherwise reload the Worker mid-measurement. The code
 *     measured is the code as it was when the bench started;
 *   - fresh state: its own database cloned from a seeded template, its own Redis logical database
 *     (flushed), its own `--persist-to` folder (empty KV, Cache API and queues) — scripts/bench-services.ts;
 *   - the database and protocol servers run in a child process, not in the process generating load.
 * The serving path itself is the same as `npm start`'s: wrangler dev (a proxy workerd in front of the
 * Worker's workerd, Miniflare's simulated KV / Cache API / Queues), same bundle, same bindings.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { copyFileSync, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, type WriteStream } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { BenchServicesOptions, BenchServicesReady } from "./bench-services";
import { sampleWrangler, type ProcSample } from "./bench-proc";
import { freePort, OFFLINE_WRANGLER_ENV } from "./services";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
const HOST = "127.0.0.1";
const READY_TIMEOUT_MS = 180_000;

export interface BenchStackOptions {
  apiPort?: number;
  sqlPort?: number;
  upstashPort?: number;
  kvCache?: boolean;
  embeddedDb?: boolean;
  /** wrangler's and the services' output. */
  logFile: string;
  log: (line: string) => void;
}

export interface BenchStack {
  apiUrl: string;
  apiPort: number;
  services: BenchServicesReady;
  /** The wrangler command line (secrets masked) and the vars it passes, for the report. */
  wranglerCommand: string;
  stageDir: string;
  /** SQL-over-HTTP requests (= database round trips) for this run's database so far. */
  dbRoundTrips(): Promise<number>;
  /** Upstash REST requests so far, or null when the cache runs on KV alone. */
  cacheRoundTrips(): Promise<number | null>;
  processes(): ProcSample[];
  stop(): Promise<void>;
}

/** Stacks started or starting in this process, so Ctrl-C can stop one that is still coming up. */
const active = new Set<() => Promise<void>>();

/** Stops every stack this process started (or is starting). */
export async function stopActiveStacks(): Promise<void> {
  await Promise.all([...active].map((stop) => stop()));
}

export async function startBenchStack(opts: BenchStackOptions): Promise<BenchStack> {
  const { log } = opts;
  mkdirSync(dirname(opts.logFile), { recursive: true });
  const logStream = createWriteStream(opts.logFile, { flags: "a" });
  const stoppers: Array<() => Promise<void>> = [];
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      for (const fn of stoppers.reverse()) await fn().catch((err: unknown) => log(`stopping: ${String(err)}`));
      await new Promise<void>((resolve) => logStream.end(() => resolve()));
      active.delete(stop);
    })());
  active.add(stop);

  try {
    const apiPort = await portOrFree(opts.apiPort ?? 8797, log, "API");
    const sqlPort = await portOrFree(opts.sqlPort ?? 4454, log, "SQL-over-HTTP");
    const upstashPort = await portOrFree(opts.upstashPort ?? 8089, log, "Upstash REST");
    const inspectorPort = await freePort();
    const secrets = readDevVars();

    const stageDir = stageWorkingTree(log);
    stoppers.push(async () => rmSync(stageDir, { recursive: true, force: true }));

    log("preparing the database and the protocol servers (child process)…");
    const services = await startServices(
      {
        sqlPort,
        upstashPort,
        token: secrets.UPSTASH_REDIS_REST_TOKEN,
        emailApiKey: secrets.EMAIL_API_KEY,
        kvCache: !!opts.kvCache,
        embeddedDb: !!opts.embeddedDb,
      },
      logStream,
      log,
    );
    stoppers.push(() => services.stop());
    log(`database: ${services.ready.databaseNote}`);
    log(`cache: ${services.ready.cacheNote}`);

    const vars: Record<string, string> = {
      DATABASE_URL: services.ready.databaseUrl,
      NEON_HTTP_ENDPOINT: services.ready.sqlUrl,
      CACHE_BACKEND: services.ready.cache,
      LOG_REQUESTS: "false",
      EMAIL_API_URL: services.ready.emailApiUrl,
      JWT_SECRET: secrets.JWT_SECRET,
      UPSTASH_REDIS_REST_TOKEN: secrets.UPSTASH_REDIS_REST_TOKEN,
      EMAIL_API_KEY: secrets.EMAIL_API_KEY,
    };
    if (services.ready.upstashUrl) vars.UPSTASH_REDIS_REST_URL = services.ready.upstashUrl;
    const args = [
      "dev", "--ip", HOST, "--port", String(apiPort), "--inspector-port", String(inspectorPort),
      "--log-level", "warn", "--show-interactive-dev-session=false", "--persist-to", join(stageDir, ".bench-state"),
    ];
    for (const [name, value] of Object.entries(vars)) args.push("--var", `${name}:${value}`);
    const wranglerCommand = `wrangler ${args.join(" ")}`
      .replace(/(JWT_SECRET|UPSTASH_REDIS_REST_TOKEN|EMAIL_API_KEY):\S+/g, "$1:***");
    log(`starting wrangler dev --log-level warn on http://${HOST}:${apiPort} (output in ${opts.logFile})…`);
    const started = performance.now();
    const wrangler = spawn(process.execPath, [join(ROOT, "node_modules/wrangler/bin/wrangler.js"), ...args], {
      cwd: stageDir,
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group, so stopping it also stops the workerd processes it spawns.
      detached: true,
      env: {
        ...process.env,
        ...OFFLINE_WRANGLER_ENV,
        NO_COLOR: "1",
      },
    });
    wrangler.stdout!.pipe(logStream, { end: false });
    wrangler.stderr!.pipe(logStream, { end: false });
    stoppers.push(() => stopGroup(wrangler, 5_000));
    // The services child kills wrangler's group if this process dies without cleaning up.
    services.watch(wrangler.pid!);

    const apiUrl = `http://${HOST}:${apiPort}`;
    await waitUntilReady(apiUrl, wrangler, opts.logFile);
    log(`ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    const sqlBase = new URL(services.ready.sqlUrl).origin;
    return {
      apiUrl,
      apiPort,
      services: services.ready,
      wranglerCommand,
      stageDir,
      async dbRoundTrips() {
        const res = await fetch(`${sqlBase}/__stats`);
        const stats = (await res.json()) as { byDatabase: Record<string, { requests: number }> };
        return stats.byDatabase[services.ready.database]?.requests ?? 0;
      },
      async cacheRoundTrips() {
        if (!services.ready.upstashUrl) return null;
        const res = await fetch(`${services.ready.upstashUrl}/__stats`, {
          headers: { authorization: `Bearer ${secrets.UPSTASH_REDIS_REST_TOKEN}` },
        });
        return ((await res.json()) as { requests: number }).requests;
      },
      processes: () => sampleWrangler(wrangler.pid!, apiPort),
      stop: async () => {
        if (!stopping) services.watch(0);
        await stop();
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** `.dev.vars` (or the example a fresh clone has): the local JWT secret and Upstash token. */
function readDevVars(): { JWT_SECRET: string; UPSTASH_REDIS_REST_TOKEN: string; EMAIL_API_KEY: string } {
  const file = existsSync(join(ROOT, ".dev.vars")) ? ".dev.vars" : ".dev.vars.example";
  const text = existsSync(join(ROOT, file)) ? readFileSync(join(ROOT, file), "utf8") : "";
  const get = (name: string, fallback: string): string => new RegExp(`^${name}=(.*)$`, "m").exec(text)?.[1]?.trim() || fallback;
  return {
    JWT_SECRET: get("JWT_SECRET", "tenpo-dev-secret"),
    UPSTASH_REDIS_REST_TOKEN: get("UPSTASH_REDIS_REST_TOKEN", "tenpo-local-token"),
    EMAIL_API_KEY: get("EMAIL_API_KEY", "tenpo-local-mail-key"),
  };
}

/** Tracked and untracked (not ignored) files of the working tree, copied; node_modules linked. */
function stageWorkingTree(log: (line: string) => void): string {
  const stage = join(tmpdir(), `tenpo-bench-${Date.now()}-${process.pid}`);
  mkdirSync(stage, { recursive: true });
  const listed = spawnSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: ROOT, encoding: "utf8" });
  const files =
    listed.status === 0
      ? listed.stdout.split("\0").filter(Boolean)
      : ["wrangler.toml", "package.json", "tsconfig.json", ...gitlessSources()];
  let copied = 0;
  for (const file of files) {
    if (file.startsWith("load/results/")) continue;
    const from = join(ROOT, file);
    if (!existsSync(from)) continue; // deleted in the working tree
    mkdirSync(dirname(join(stage, file)), { recursive: true });
    copyFileSync(from, join(stage, file));
    copied += 1;
  }
  symlinkSync(join(ROOT, "node_modules"), join(stage, "node_modules"), "dir");
  log(`snapshot of the working tree (${copied} files) in ${stage}`);
  return stage;
}

function gitlessSources(): string[] {
  return readdirSync(join(ROOT, "src"), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)));
}

interface ServicesHandle {
  ready: BenchServicesReady;
  watch(pgid: number): void;
  stop(): Promise<void>;
}

function startServices(opts: BenchServicesOptions, logStream: WriteStream, log: (line: string) => void): Promise<ServicesHandle> {
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "scripts/bench-services.ts"), JSON.stringify(opts)], {
    cwd: ROOT,
    stdio: ["pipe", "pipe", "pipe"],
  });
  child.stderr!.pipe(logStream, { end: false });
  return new Promise((resolve, reject) => {
    let settled = false;
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => {
      logStream.write(`${line}\n`);
      if (line.startsWith("READY ")) {
        settled = true;
        resolve({
          ready: JSON.parse(line.slice("READY ".length)) as BenchServicesReady,
          watch: (pgid) => {
            if (child.stdin?.writable) child.stdin.write(`${JSON.stringify({ watch: pgid })}\n`);
          },
          stop: () => stopChild(child, 15_000),
        });
      } else if (!settled && line.startsWith("[bench-services]") && !/ms$/.test(line)) {
        log(line.replace("[bench-services] ", ""));
      }
    });
    child.once("exit", (code, signal) => {
      if (!settled) reject(new Error(`the bench services stopped before they were ready (${signal ?? code}); see the log`));
    });
  });
}

async function waitUntilReady(apiUrl: string, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = "no answer yet";
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`wrangler dev exited (${child.signalCode ?? child.exitCode}) before it was ready:\n${tail(logFile)}`);
    }
    try {
      const res = await fetch(`${apiUrl}/health/ready`, { signal: AbortSignal.timeout(5000) });
      if (res.ok) return;
      last = `${res.status} ${await res.text()}`;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`the API did not become ready within ${READY_TIMEOUT_MS / 1000} s (last: ${last}):\n${tail(logFile)}`);
}

function tail(file: string, lines = 25): string {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** The preferred port when it is free, else one the OS picks. */
async function portOrFree(preferred: number, log: (line: string) => void, what: string): Promise<number> {
  const free = await new Promise<boolean>((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(preferred, HOST, () => server.close(() => resolve(true)));
  });
  if (free) return preferred;
  const port = await freePort();
  log(`port ${preferred} (${what}) is taken: using ${port}`);
  return port;
}

function stopGroup(child: ChildProcess, killAfterMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // Already gone.
      }
      resolve();
    }, killAfterMs);
    child.once("exit", () => {
      clearTimeout(timer);
      // The group may still hold workerd processes that outlive wrangler for a moment.
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // None left.
      }
      resolve();
    });
    try {
      process.kill(-child.pid!, "SIGTERM");
    } catch {
      clearTimeout(timer);
      resolve();
    }
  });
}

function stopChild(child: ChildProcess, killAfterMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      resolve();
    }, killAfterMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}
