/**
 * The Worker as `npm start` and `npm run bench` serve it: the production bundle (what `wrangler deploy`
 * uploads, built by `wrangler deploy --dry-run --outdir`) on workerd through Miniflare's programmatic API,
 * with the bindings wrangler.toml declares (KV, Cache API, Queues and their consumers, Analytics Engine,
 * vars), the cron triggers fired on schedule, and no development proxy in front.
 *
 * Why Miniflare with a direct socket (measured on this machine, README "Serving paths"): Miniflare's
 * default entry socket runs every request through its own entry worker first (cf object, pretty errors,
 * its request log), ~4× slower than bare `workerd serve` for a hello world; `wrangler dev` adds a proxy
 * workerd on top (~15× slower). `unsafeDirectSockets` binds the API port straight to the Worker, which
 * measured within a few per cent of bare workerd, while Miniflare still provides the simulated KV,
 * Cache API and Queues that bare workerd would need us to write. Miniflare's own entry socket stays
 * on a second port for what only it offers: `/cdn-cgi/handler/scheduled` to fire the cron by hand.
 */
import { spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { Cron } from "croner";
import { Miniflare, Response, type Request, type WorkerOptions } from "miniflare";
import type { Readable } from "node:stream";
import { readDevVars } from "./lib/dev-vars";
import { OFFLINE_WRANGLER_ENV } from "./services";

/** The part of wrangler's API this module uses. */
type WranglerApi = Pick<typeof import("wrangler"), "unstable_getMiniflareWorkerOptions" | "unstable_readConfig">;
let wranglerApi: Promise<WranglerApi> | undefined;

/**
 * wrangler, imported on first use. Importing its CLI module installs SIGINT and SIGTERM handlers that
 * call process.exit() at once, ahead of the caller's own (the bench's runtime child stops bare workerd
 * and removes its config folder on SIGTERM); wrangler's dev server is not used here, so the handlers the
 * import added are removed again. (Miniflare installs its own exit hook when an instance starts: it
 * kills workerd and exits; that one stays.)
 */
function loadWrangler(): Promise<WranglerApi> {
  return (wranglerApi ??= (async () => {
    const signals = ["SIGINT", "SIGTERM"] as const;
    const before = new Map(signals.map((signal) => [signal, new Set(process.listeners(signal))]));
    const api = await import("wrangler");
    for (const signal of signals) {
      for (const listener of process.listeners(signal)) if (!before.get(signal)!.has(listener)) process.removeListener(signal, listener);
    }
    return api;
  })());
}

/** A cron run that has not answered by then is reported as failed (the Worker's own limit is 15 minutes deployed). */
const CRON_TIMEOUT_MS = 60_000;

/** Where the production bundle is built, relative to the project root (git-ignored). */
export const BUNDLE_DIR = ".tenpo/build";

export type WorkerRuntimeOptions = {
  /** The project root (wrangler.toml, .dev.vars); the bundle is built from its sources. */
  root: string;
  /** Where the bundle is built (default `<root>/.tenpo/build`). */
  bundleDir?: string;
  host: string;
  /** The API port: bound directly to the Worker. */
  port: number;
  /** Miniflare's own entry port (`/cdn-cgi/handler/scheduled`); 0 = any free port. */
  controlPort?: number;
  /** Vars and secrets on top of wrangler.toml's [vars] and .dev.vars (the local stack's URLs). */
  vars: Record<string, string>;
  /** Where KV, the Cache API and the queues keep their state (`.wrangler/state/v3`, as wrangler dev does). */
  persistTo: string;
  /** The Worker's console output, line by line (default: this process's stdout/stderr as is). */
  onOutput?: (stream: "stdout" | "stderr", chunk: Buffer) => void;
  /** Fire wrangler.toml's cron triggers on their schedule (UTC). Default true. */
  crons?: boolean;
  log: (line: string) => void;
};

export type WorkerRuntime = {
  /** http://host:port of the API. */
  url: string;
  /** Miniflare's entry URL: `${controlUrl}/cdn-cgi/handler/scheduled?cron=…` fires the cron by hand. */
  controlUrl: string;
  /** The cron expressions scheduled. */
  crons: string[];
  /** Bundle size in bytes (index.js and its modules). */
  bundleBytes: number;
  stop(): Promise<void>;
};

/** `wrangler deploy --dry-run --outdir`: the exact bundle a deploy uploads. Throws with wrangler's output on failure. */
export async function buildBundle(root: string, outDir: string): Promise<void> {
  const wrangler = `${root}/node_modules/.bin/wrangler`;
  const args = ["deploy", "--dry-run", "--env=", "--outdir", outDir];
  const output: Buffer[] = [];
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(wrangler, args, { cwd: root, env: { ...process.env, ...OFFLINE_WRANGLER_ENV }, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.on("data", (chunk: Buffer) => output.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => output.push(chunk));
    child.once("error", reject);
    child.once("exit", resolve);
  });
  if (code !== 0) throw new Error(`wrangler deploy --dry-run failed (${code}):\n${Buffer.concat(output).toString().trim()}`);
}

/** Builds the bundle and serves it. The caller stops it (Ctrl-C handling is the caller's). */
export async function startWorkerRuntime(opts: WorkerRuntimeOptions): Promise<WorkerRuntime> {
  const bundleDir = opts.bundleDir ?? `${opts.root}/${BUNDLE_DIR}`;
  const builtAt = performance.now();
  await buildBundle(opts.root, bundleDir);
  const bundleBytes = bundleSize(bundleDir);
  opts.log(
    `built the production bundle in ${((performance.now() - builtAt) / 1000).toFixed(1)} s (${(bundleBytes / 1024).toFixed(0)} KiB, ${bundleDir})`,
  );

  const wrangler = await loadWrangler();
  const fromConfig = wrangler.unstable_getMiniflareWorkerOptions(`${opts.root}/wrangler.toml`);
  const { modulesRules, assets, ...workerOptions } = fromConfig.workerOptions;
  const worker = {
    ...workerOptions,
    serviceBindings: {
      ...workerOptions.serviceBindings,
      ...(assets ? { [assets.binding ?? "ASSETS"]: assetsFrom(assets.directory) } : {}),
    },
    name: "tenpo",
    modules: true,
    modulesRoot: bundleDir,
    scriptPath: `${bundleDir}/index.js`,
    modulesRules,
    bindings: { ...workerOptions.bindings, ...readDevVars(opts.root), ...opts.vars },
    unsafeDirectSockets: [{ host: opts.host, port: opts.port }],
  } as WorkerOptions;

  const mf = newMiniflare([worker], opts);
  const controlUrl = (await mf.ready).origin;

  const cronJobs: Cron[] = [];
  const crons = wrangler.unstable_readConfig({ config: `${opts.root}/wrangler.toml` }).triggers.crons ?? [];
  if (opts.crons !== false) {
    for (const expression of crons) {
      cronJobs.push(
        new Cron(expression, { timezone: "UTC", protect: true }, async () => {
          // Through Miniflare's entry over HTTP, never through mf.getWorker(): that proxy waits for workerd
          // synchronously (Atomics.wait), and a workerd blocked writing its log to this very process
          // then never gets read. Under load that froze both (seen at the first cron of a load test).
          try {
            const url = `${controlUrl}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent(expression)}&time=${Date.now()}`;
            const res = await fetch(url, { signal: AbortSignal.timeout(CRON_TIMEOUT_MS) });
            await res.body?.cancel();
            if (!res.ok) throw new Error(`HTTP ${res.status}`);
          } catch (err) {
            opts.log(`cron ${expression} failed: ${err instanceof Error ? err.message : String(err)}`);
          }
        }),
      );
    }
  }

  return {
    url: `http://${opts.host}:${opts.port}`,
    controlUrl,
    crons,
    bundleBytes,
    stop: async () => {
      for (const job of cronJobs) job.stop();
      await mf.dispose();
    },
  };
}

/** The compatibility date and flags wrangler.toml gives the Worker. */
export type Compatibility = { compatibilityDate: string; compatibilityFlags: string[] };

/** wrangler.toml's compatibility date and flags, so another Worker can be served under the same ones. */
export async function compatibilityOf(root: string): Promise<Compatibility> {
  const config = (await loadWrangler()).unstable_readConfig({ config: `${root}/wrangler.toml` });
  if (!config.compatibility_date) throw new Error(`${root}/wrangler.toml has no compatibility_date`);
  return { compatibilityDate: config.compatibility_date, compatibilityFlags: config.compatibility_flags ?? [] };
}

export type ModuleServerOptions = Compatibility & {
  /** An ES module Worker file, served as is (no build, no bindings). */
  scriptPath: string;
  host: string;
  /** The port bound directly to the Worker. */
  port: number;
  onOutput?: WorkerRuntimeOptions["onOutput"];
};

export type ModuleServer = {
  url: string;
  stop(): Promise<void>;
};

/**
 * Serves one module file on exactly the path `startWorkerRuntime` uses (Miniflare, its entry worker on
 * a side port, the API port bound directly to the Worker): the benchmark's hello world, so that the
 * serving path's own cost can be measured apart from the app's.
 */
export async function serveModule(opts: ModuleServerOptions): Promise<ModuleServer> {
  const worker = {
    name: "module",
    modules: true,
    scriptPath: opts.scriptPath,
    compatibilityDate: opts.compatibilityDate,
    compatibilityFlags: opts.compatibilityFlags,
    unsafeDirectSockets: [{ host: opts.host, port: opts.port }],
  } as WorkerOptions;
  const mf = newMiniflare([worker], { host: opts.host, onOutput: opts.onOutput });
  await mf.ready;
  return { url: `http://${opts.host}:${opts.port}`, stop: () => mf.dispose() };
}

/** The one Miniflare set-up both entry points share: entry worker on a side port, the Worker's console out. */
/**
 * The ASSETS binding, without Miniflare's assets router. Given `assets`, Miniflare (4.20260426) puts
 * its router worker and an RPC proxy in front of the Worker for every request, `run_worker_first` or
 * not. Measured here (wrk -t2 -c50, 5 s, minutes apart, same code): cached product detail 1,575 req/s
 * with it, 4,644 without; GET /health 1,178 and 3,212. And it hands scheduled events to the router,
 * which has none, so the cron answered 500 and never ran (workers-sdk#9882, fixed in later releases).
 * Deployed, asset routing is Cloudflare's and costs the Worker nothing, and with run_worker_first the
 * Worker sees every request first either way; so locally the Worker gets the socket, and ASSETS is a
 * service binding that answers a GET with the file under the assets directory (only /docs reads it).
 */
function assetsFrom(directory: string): (request: Request) => Promise<Response> {
  const root = resolve(directory);
  return async (request) => {
    const file = resolve(root, `.${decodeURIComponent(new URL(request.url).pathname)}`);
    if (request.method !== "GET" || !file.startsWith(`${root}/`)) return new Response(null, { status: 404 });
    try {
      return new Response(await readFile(file), { status: 200 });
    } catch {
      return new Response(null, { status: 404 });
    }
  };
}

function newMiniflare(
  workers: WorkerOptions[],
  opts: { host: string; controlPort?: number; persistTo?: string; onOutput?: WorkerRuntimeOptions["onOutput"] },
): Miniflare {
  return new Miniflare({
    host: opts.host,
    port: opts.controlPort ?? 0,
    defaultPersistRoot: opts.persistTo,
    unsafeTriggerHandlers: true,
    handleRuntimeStdio: (stdout: Readable, stderr: Readable) => {
      if (opts.onOutput) {
        stdout.on("data", (chunk: Buffer) => opts.onOutput!("stdout", chunk));
        stderr.on("data", (chunk: Buffer) => opts.onOutput!("stderr", chunk));
      } else {
        stdout.pipe(process.stdout);
        stderr.pipe(process.stderr);
      }
    },
    workers,
  });
}

/** Bytes of the modules a deploy uploads (source maps and wrangler's README left out). */
function bundleSize(dir: string): number {
  return readdirSync(dir)
    .filter((name) => !name.endsWith(".map") && name !== "README.md")
    .reduce((total, name) => total + statSync(`${dir}/${name}`).size, 0);
}
