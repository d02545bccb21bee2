/**
 * The stack in its benchmark configuration, for `npm run bench` (scripts/bench/bench.ts).
 *
 * The serving path is `npm start`'s: the production bundle (`wrangler deploy --dry-run`) on workerd
 * through Miniflare with the API port bound directly to the Worker (scripts/worker-runtime.ts), with
 * Miniflare's simulated KV, Cache API and Queues. What differs from `npm start` (scripts/start.ts), and why:
 *   - own ports (API 8797, SQL-over-HTTP 4454, Upstash REST 8089, hello worlds 8798 and 8799; the next
 *     free port when one is taken; Miniflare's entry port and the mail sink on free ports), so a running
 *     `npm start` (8787/4444/8079) is never disturbed;
 *   - `LOG_REQUESTS=false`: the Worker's per-request JSON log line off (failed requests still log) unless
 *     `--request-log`, which turns it on, to a file, so its cost can be measured; `METRICS_SINK_URL` left at
 *     wrangler.toml's empty default: no metrics sink (npm start runs scripts/metrics-sink.ts);
 *   - no cron: a re-send sweep during a phase would be counted against that phase;
 *   - order e-mails go to a mail sink of the bench's own, not to npm start's on 8025, and payments to a
 *     Stripe stand-in of its own (free port, a key and an endpoint secret of the run), not to npm start's
 *     on 12111; it sends its events to the app's webhook route on the bench's API port;
 *   - a snapshot of the working tree (scripts/bench/snapshot.ts), from which the bundle is built: the
 *     code measured is the code as it was when the bench started;
 *   - fresh state: its own database cloned from a seeded template, its own Redis logical databases
 *     (the cache's and the throttles', flushed), an empty persist folder (KV, Cache API and queues) — scripts/bench/services.ts;
 *   - nothing runs in the process generating load: the database and protocol servers run in one child
 *     (scripts/bench/services.ts), each Worker runtime in a child of its own (scripts/bench/runtime.ts):
 *     the app, and scripts/hello-world.js on the same path and on bare `workerd serve`.
 */
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startReadyChild, type ReadyChild } from "./child";
import { sampleProcesses, type ProcSample } from "./proc";
import type { BenchRuntimeKind, BenchRuntimeReady, BenchRuntimeSpec } from "./runtime";
import type { BenchServicesOptions, BenchServicesReady } from "./services";
import { startDelayProxy, type DelayProxy } from "./delay-proxy";
import type { RoundTrips } from "./round-trips";
import { stageWorkingTree } from "./snapshot";
import type { StripeEndpoint } from "../../load/storefront";
import { readDevVars } from "../lib/dev-vars";
import { waitUntilReady } from "../lib/wait-ready";
import { newLocalSecret } from "../local-http";
import { freePort } from "../services";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const HOST = "127.0.0.1";
const READY_TIMEOUT_MS = 180_000;

/** Which Worker a phase loads: the app, or the hello world on npm start's path or on bare workerd. */
export type RuntimeKey = BenchRuntimeKind;

export interface BenchStackOptions {
  kvCache?: boolean;
  embeddedDb?: boolean;
  /** The Worker's per-request JSON log line on (LOG_REQUESTS=true), written to `workerLogFile`. */
  requestLog: boolean;
  /** The services' and runtimes' output. */
  logFile: string;
  /** The Worker's console output (and bare workerd's). */
  workerLogFile: string;
  /**
   * Put a delaying proxy (scripts/bench/delay-proxy.ts) in front of each runtime and hand out its
   * address instead (`--rtt`): the shopper's round trip, at 0 ms until setRoundTrips says otherwise.
   */
  clientProxies?: boolean;
  log: (line: string) => void;
}

export interface BenchStack {
  /** The app on npm start's path. */
  apiUrl: string;
  /** Each runtime's base URL (its delaying proxy's with `clientProxies`). */
  urls: Record<RuntimeKey, string>;
  runtimes: Record<RuntimeKey, BenchRuntimeReady>;
  services: BenchServicesReady;
  /** The vars the app gets on top of wrangler.toml's (secrets masked), for the report. */
  appVars: Record<string, string>;
  stageDir: string;
  /** The bench's Stripe stand-in as a shopper's browser reaches it (base URL and key), for the storefront phase. */
  stripe: StripeEndpoint;
  /** SQL-over-HTTP requests (= database round trips) for this run's database so far. */
  dbRoundTrips(): Promise<number>;
  /** Upstash REST requests so far, or null when the cache runs on KV alone. */
  cacheRoundTrips(): Promise<number | null>;
  /** Upstash REST requests to both servers (the catalog cache's and the throttles') so far; 0 for one not running. */
  redisRoundTrips(): Promise<number>;
  /**
   * Makes each hop cost this much per round trip from now on (scripts/bench/round-trips.ts): the
   * proxies' client delay, a delay fault on the run database's SQL requests, one on every Upstash REST request.
   * Needs `clientProxies` for a client delay.
   */
  setRoundTrips(rt: RoundTrips): Promise<void>;
  /** CPU samples of the processes a phase on `target` is charged for (scripts/bench/proc.ts). */
  processes(target: RuntimeKey): ProcSample[];
  stop(): Promise<void>;
}

/** Stacks started or starting in this process, so Ctrl-C can stop one that is still coming up. */
const active = new Set<() => Promise<void>>();

/** Stops every stack this process started (or is starting). */
export async function stopActiveStacks(): Promise<void> {
  await Promise.all([...active].map((stop) => stop()));
}

/** Starts the services child, then the three runtimes, and waits until the app is ready. */
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
    const apiPort = await portOrFree(8797, log, "API");
    const helloPort = await portOrFree(8798, log, "hello world (Miniflare)");
    const barePort = await portOrFree(8799, log, "hello world (bare workerd)");
    const sqlPort = await portOrFree(4454, log, "SQL-over-HTTP");
    const upstashPort = await portOrFree(8089, log, "Upstash REST");
    const secrets = benchSecrets();

    const stageDir = stageWorkingTree(ROOT, log);
    stoppers.push(async () => rmSync(stageDir, { recursive: true, force: true }));

    const runtime = (spec: Omit<BenchRuntimeSpec, "root" | "host" | "outputFile">): Promise<ReadyChild<BenchRuntimeReady>> =>
      startReadyChild<BenchRuntimeReady>({
        script: join(ROOT, "scripts/bench/runtime.ts"),
        options: { ...spec, root: stageDir, host: HOST, outputFile: opts.workerLogFile } satisfies BenchRuntimeSpec,
        cwd: stageDir,
        logStream,
        prefix: "[bench-runtime]",
        log,
        detached: true,
        killAfterMs: 5_000,
      });
    const helloScript = join(stageDir, "scripts/hello-world.js");

    log("preparing the database and the protocol servers (child process); starting the hello worlds…");
    const servicesOptions: BenchServicesOptions = {
      sqlPort,
      upstashPort,
      token: secrets.UPSTASH_REDIS_REST_TOKEN,
      sqlSecret: secrets.NEON_HTTP_SECRET,
      emailApiKey: secrets.EMAIL_API_KEY,
      stripeSecretKey: secrets.STRIPE_SECRET_KEY,
      stripeWebhookSecret: secrets.STRIPE_WEBHOOK_SECRET,
      stripeWebhookUrl: `http://${HOST}:${apiPort}/api/v1/webhooks/stripe`,
      kvCache: !!opts.kvCache,
      embeddedDb: !!opts.embeddedDb,
    };
    const [services, hello, bare] = await Promise.all([
      startReadyChild<BenchServicesReady>({
        script: join(ROOT, "scripts/bench/services.ts"),
        options: servicesOptions,
        cwd: ROOT,
        logStream,
        prefix: "[bench-services]",
        log,
        killAfterMs: 15_000,
      }).then((child) => track(child, true)),
      runtime({ kind: "hello-miniflare", port: helloPort, scriptPath: helloScript }).then(track),
      runtime({ kind: "hello-workerd", port: barePort, scriptPath: helloScript }).then(track),
    ]);
    log(`database: ${services.ready.databaseNote}`);
    log(`cache: ${services.ready.cacheNote}`);
    // The services child kills the runtimes' process groups if this process dies without cleaning up.
    const guard = (child: ReadyChild<BenchRuntimeReady>): void => services.send({ watch: child.pid });
    guard(hello);
    guard(bare);

    const vars: Record<string, string> = {
      DATABASE_URL: services.ready.databaseUrl,
      NEON_HTTP_ENDPOINT: services.ready.sqlUrl,
      NEON_HTTP_SECRET: secrets.NEON_HTTP_SECRET,
      CACHE_BACKEND: services.ready.cache,
      LOG_REQUESTS: opts.requestLog ? "true" : "false",
      EMAIL_API_URL: services.ready.emailApiUrl,
      JWT_SECRET: secrets.JWT_SECRET,
      UPSTASH_REDIS_REST_TOKEN: secrets.UPSTASH_REDIS_REST_TOKEN,
      EMAIL_API_KEY: secrets.EMAIL_API_KEY,
      STRIPE_API_BASE: services.ready.stripeApiBase,
      STRIPE_SECRET_KEY: secrets.STRIPE_SECRET_KEY,
      STRIPE_WEBHOOK_SECRET: secrets.STRIPE_WEBHOOK_SECRET,
    };
    if (services.ready.upstashUrl) vars.UPSTASH_REDIS_REST_URL = services.ready.upstashUrl;
    // The throttles' own server (the same token); none without Redis: the binding alone, as in npm start.
    vars.THROTTLE_REDIS_REST_URL = services.ready.throttleUrl ?? "";
    vars.THROTTLE_REDIS_REST_TOKEN = secrets.UPSTASH_REDIS_REST_TOKEN;
    log(
      `building the bundle from the snapshot and serving it on http://${HOST}:${apiPort} (Miniflare, direct socket; output in ${opts.logFile})…`,
    );
    const started = performance.now();
    const app = track(await runtime({ kind: "app", port: apiPort, vars, persistTo: join(stageDir, ".bench-state") }));
    guard(app);
    await waitUntilReady({
      url: `${app.ready.url}/health/ready`,
      timeoutMs: READY_TIMEOUT_MS,
      pollMs: 300,
      requestTimeoutMs: 5000,
      failureDetail: () => tail(opts.logFile),
    });
    log(`ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    const runtimes: Record<RuntimeKey, BenchRuntimeReady> = { app: app.ready, "hello-miniflare": hello.ready, "hello-workerd": bare.ready };
    const urls: Record<RuntimeKey, string> = { app: app.ready.url, "hello-miniflare": hello.ready.url, "hello-workerd": bare.ready.url };
    const proxies: DelayProxy[] = [];
    if (opts.clientProxies) {
      for (const key of Object.keys(urls) as RuntimeKey[]) {
        const proxy = await startDelayProxy({ targetPort: Number(new URL(urls[key]).port), host: HOST });
        stoppers.push(() => proxy.close());
        proxies.push(proxy);
        urls[key] = proxy.url;
      }
      log(`client round trips: delaying proxies ${proxies.map((p) => p.port).join(", ")} in front of the app and the hello worlds`);
    }
    const sqlBase = new URL(services.ready.sqlUrl).origin;
    const upstashServers = [services.ready.upstashUrl, services.ready.throttleUrl].filter((u): u is string => !!u);
    // A call to a protocol server's own control routes (/__stats, /__faults), behind its secret.
    const control = (base: string, secret: string, path: string, init: RequestInit = {}): Promise<Response> =>
      fetch(`${base}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
        signal: AbortSignal.timeout(10_000),
      });
    return {
      apiUrl: urls.app,
      urls,
      runtimes,
      services: services.ready,
      appVars: Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, /SECRET|TOKEN|KEY/.test(k) ? "***" : v])),
      stageDir,
      stripe: { apiBase: services.ready.stripeApiBase, secretKey: secrets.STRIPE_SECRET_KEY },
      async dbRoundTrips() {
        const res = await control(sqlBase, secrets.NEON_HTTP_SECRET, "/__stats");
        const stats = (await res.json()) as { byDatabase: Record<string, { requests: number }> };
        return stats.byDatabase[services.ready.database]?.requests ?? 0;
      },
      async cacheRoundTrips() {
        if (!services.ready.upstashUrl) return null;
        const res = await control(services.ready.upstashUrl, secrets.UPSTASH_REDIS_REST_TOKEN, "/__stats");
        return ((await res.json()) as { requests: number }).requests;
      },
      async redisRoundTrips() {
        let total = 0;
        for (const base of upstashServers) {
          const res = await control(base, secrets.UPSTASH_REDIS_REST_TOKEN, "/__stats");
          total += ((await res.json()) as { requests: number }).requests;
        }
        return total;
      },
      async setRoundTrips(rt) {
        if (rt.client > 0 && proxies.length === 0) throw new Error("a client round trip needs the stack started with clientProxies");
        for (const proxy of proxies) proxy.setRoundTrip(rt.client);
        const database = services.ready.database;
        const sql =
          rt.db > 0
            ? control(sqlBase, secrets.NEON_HTTP_SECRET, "/__faults", {
                method: "POST",
                body: JSON.stringify({ database, delayMs: rt.db }),
              })
            : control(sqlBase, secrets.NEON_HTTP_SECRET, `/__faults?database=${encodeURIComponent(database)}`, { method: "DELETE" });
        const redis = upstashServers.map((base) =>
          rt.redis > 0
            ? control(base, secrets.UPSTASH_REDIS_REST_TOKEN, "/__faults", { method: "POST", body: JSON.stringify({ delayMs: rt.redis }) })
            : control(base, secrets.UPSTASH_REDIS_REST_TOKEN, "/__faults", { method: "DELETE" }),
        );
        for (const res of await Promise.all([sql, ...redis])) {
          if (!res.ok) throw new Error(`setting the round trips: ${res.url} answered ${res.status} ${await res.text()}`);
        }
      },
      processes: (target) =>
        sampleProcesses({ worker: runtimes[target].workerdPid, host: runtimes[target].hostPid, services: services.pid }),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }

  /** Stopped in reverse order of start; `last`: after everything else (the services the runtimes talk to). */
  function track<T extends ReadyChild<unknown>>(child: T, last = false): T {
    if (last) stoppers.unshift(() => child.stop());
    else stoppers.push(() => child.stop());
    return child;
  }
}

/**
 * `.dev.vars` (or the example a fresh clone has): the local JWT secret and mail key. The protocol
 * servers' secrets are new for every run, like npm start's, and so are the Stripe stand-in's key and
 * endpoint secret (only the bench's Worker and its stand-in need to agree on them).
 */
function benchSecrets(): {
  JWT_SECRET: string;
  UPSTASH_REDIS_REST_TOKEN: string;
  NEON_HTTP_SECRET: string;
  EMAIL_API_KEY: string;
  STRIPE_SECRET_KEY: string;
  STRIPE_WEBHOOK_SECRET: string;
} {
  const vars = readDevVars(ROOT, existsSync(join(ROOT, ".dev.vars")) ? ".dev.vars" : ".dev.vars.example");
  return {
    JWT_SECRET: vars.JWT_SECRET || "tenpo-dev-secret",
    UPSTASH_REDIS_REST_TOKEN: newLocalSecret(),
    NEON_HTTP_SECRET: newLocalSecret(),
    EMAIL_API_KEY: vars.EMAIL_API_KEY || "tenpo-local-mail-key",
    STRIPE_SECRET_KEY: `sk_test_${newLocalSecret()}`,
    STRIPE_WEBHOOK_SECRET: `whsec_${newLocalSecret()}`,
  };
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
