/**
 * One Worker runtime of the benchmark, run as a CHILD process of `npm run bench` (scripts/bench/stack.ts)
 * so that the load generator's event loop is never the one hosting Miniflare:
 *
 *   - "app": the production bundle built from the bench's snapshot, on npm start's path
 *     (scripts/worker-runtime.ts `startWorkerRuntime`: Miniflare, API port bound directly to the Worker);
 *   - "hello-miniflare": scripts/hello-world.js on the same path (`serveModule`);
 *   - "hello-workerd": scripts/hello-world.js on bare `workerd serve` (scripts/workerd-serve.ts).
 *
 * Protocol with the parent: the spec as JSON in argv[2]; one line `READY <json>` on stdout when the
 * runtime answers. SIGTERM / SIGINT, or stdin closing (the parent is gone), stop it and exit.
 * The Worker's console output (and bare workerd's) is appended to `outputFile`.
 */
import { createWriteStream } from "node:fs";
import { createInterface } from "node:readline";
import { descendants, readStat } from "./proc";
import { serveOnBareWorkerd } from "../workerd-serve";
import { compatibilityOf, serveModule, startWorkerRuntime } from "../worker-runtime";

/** Which runtime the child serves. */
export type BenchRuntimeKind = "app" | "hello-miniflare" | "hello-workerd";

export type BenchRuntimeSpec = {
  kind: BenchRuntimeKind;
  /** The snapshot root (wrangler.toml: bundle sources for "app", compatibility date and flags for all). */
  root: string;
  host: string;
  port: number;
  /** The Worker's console output and workerd's own messages, appended. */
  outputFile: string;
  /** "hello-*": the module file served. */
  scriptPath?: string;
  /** "app": vars and secrets on top of wrangler.toml's. */
  vars?: Record<string, string>;
  /** "app": the (empty) folder for KV, the Cache API and the queues. */
  persistTo?: string;
};

export type BenchRuntimeReady = {
  kind: BenchRuntimeKind;
  url: string;
  /** The workerd process that serves the Worker (Miniflare's: also its entry worker and the simulated KV / Cache API / Queues). */
  workerdPid: number;
  /** This child (the Node process hosting Miniflare; for bare workerd it only waits). */
  hostPid: number;
  /** "app": the bundle's size in bytes. */
  bundleBytes: number | null;
  /** "hello-workerd": the generated capnp config. */
  config: string | null;
};

const log = (line: string): void => console.log(`[bench-runtime] ${line}`);
let stopRuntime: (() => Promise<void>) | undefined;

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? "{}") as BenchRuntimeSpec;
  watchParent();
  const compatibility = await compatibilityOf(spec.root);
  const output = createWriteStream(spec.outputFile, { flags: "a" });
  const onOutput = (_stream: "stdout" | "stderr", chunk: Buffer): void => void output.write(chunk);
  let ready: BenchRuntimeReady;

  if (spec.kind === "hello-workerd") {
    const server = await serveOnBareWorkerd({
      ...compatibility,
      scriptPath: required(spec.scriptPath, "scriptPath"),
      host: spec.host,
      port: spec.port,
      outputFile: spec.outputFile,
    });
    stopRuntime = () => server.stop();
    ready = {
      kind: spec.kind,
      url: server.url,
      workerdPid: server.pid,
      hostPid: process.pid,
      bundleBytes: null,
      config: server.configText,
    };
  } else if (spec.kind === "hello-miniflare") {
    const server = await serveModule({
      ...compatibility,
      scriptPath: required(spec.scriptPath, "scriptPath"),
      host: spec.host,
      port: spec.port,
      onOutput,
    });
    stopRuntime = () => server.stop();
    ready = { kind: spec.kind, url: server.url, workerdPid: ownWorkerd(), hostPid: process.pid, bundleBytes: null, config: null };
  } else {
    const runtime = await startWorkerRuntime({
      root: spec.root,
      host: spec.host,
      port: spec.port,
      vars: spec.vars ?? {},
      persistTo: required(spec.persistTo, "persistTo"),
      // The bench fires no cron: a re-send sweep in the middle of a phase would be counted against it.
      crons: false,
      onOutput,
      log,
    });
    stopRuntime = () => runtime.stop();
    ready = {
      kind: spec.kind,
      url: runtime.url,
      workerdPid: ownWorkerd(),
      hostPid: process.pid,
      bundleBytes: runtime.bundleBytes,
      config: null,
    };
  }
  console.log(`READY ${JSON.stringify(ready)}`);
}

function required<T>(value: T | undefined, name: string): T {
  if (value === undefined) throw new Error(`bench-runtime: ${name} is required`);
  return value;
}

/** The workerd Miniflare started under this process (it starts exactly one). */
function ownWorkerd(): number {
  const found = descendants(process.pid).filter((pid) => readStat(pid)?.comm === "workerd");
  if (found.length !== 1) throw new Error(`expected one workerd under ${process.pid}, found ${found.length}`);
  return found[0]!;
}

/** stdin closes when the parent is gone: stop the runtime rather than leave workerd behind. */
function watchParent(): void {
  createInterface({ input: process.stdin }).on("close", () => void shutdown(0));
}

let stopping = false;
async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  await stopRuntime?.().catch((err: unknown) => log(`stopping: ${String(err)}`));
  process.exit(code);
}

process.on("SIGTERM", () => void shutdown(0));
process.on("SIGINT", () => void shutdown(0));

main().catch((err: unknown) => {
  console.error(`[bench-runtime] ${err instanceof Error ? err.message : String(err)}`);
  void shutdown(1);
});
