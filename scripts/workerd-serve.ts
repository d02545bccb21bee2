/**
 * A module Worker on bare `workerd serve`, with a capnp config generated into a temporary folder: no
 * Miniflare, no entry worker, no bindings. The benchmark serves its hello world here as the reference
 * for what workerd itself can do on this machine, next to the same file on npm start's path.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, mkdtempSync, openSync, rmSync, writeFileSync, closeSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import type { Compatibility } from "./worker-runtime";

const READY_TIMEOUT_MS = 30_000;

export type BareWorkerdOptions = Compatibility & {
  /** An ES module Worker file; copied next to the config (capnp `embed` reads it from there). */
  scriptPath: string;
  host: string;
  port: number;
  /** Where workerd's stdout and stderr go (appended; written by workerd itself, not through Node). */
  outputFile: string;
};

export type BareWorkerd = {
  url: string;
  /** The workerd process (for /proc accounting). */
  pid: number;
  /** The generated config, for the report. */
  configText: string;
  stop(): Promise<void>;
};

/**
 * The workerd binary Miniflare runs (MINIFLARE_WORKERD_PATH, else the installed `workerd` package's),
 * so both hello worlds run on the same build.
 */
export function workerdBinary(): string {
  if (process.env.MINIFLARE_WORKERD_PATH) return process.env.MINIFLARE_WORKERD_PATH;
  const require = createRequire(import.meta.url);
  const mod = require("workerd") as { default?: string } | string;
  const path = typeof mod === "string" ? mod : mod.default;
  if (!path) throw new Error("the workerd package did not name its binary");
  return path;
}

/** The capnp config: one service running the module, one HTTP socket bound to it. */
export function bareWorkerdConfig(opts: Compatibility & { moduleFile: string; host: string; port: number }): string {
  const flags = opts.compatibilityFlags.map((flag) => JSON.stringify(flag)).join(", ");
  return [
    'using Workerd = import "/workerd/workerd.capnp";',
    "",
    "const config :Workerd.Config = (",
    '  services = [ (name = "main", worker = .mainWorker) ],',
    `  sockets = [ (name = "http", address = ${JSON.stringify(`${opts.host}:${opts.port}`)}, http = (), service = "main") ],`,
    ");",
    "",
    "const mainWorker :Workerd.Worker = (",
    `  modules = [ (name = "worker", esModule = embed ${JSON.stringify(opts.moduleFile)}) ],`,
    `  compatibilityDate = ${JSON.stringify(opts.compatibilityDate)},`,
    `  compatibilityFlags = [ ${flags} ],`,
    ");",
    "",
  ].join("\n");
}

/** Starts `workerd serve` and resolves once the socket answers. */
export async function serveOnBareWorkerd(opts: BareWorkerdOptions): Promise<BareWorkerd> {
  const dir = mkdtempSync(join(tmpdir(), "tenpo-workerd-"));
  const moduleFile = basename(opts.scriptPath);
  copyFileSync(opts.scriptPath, join(dir, moduleFile));
  const configText = bareWorkerdConfig({ ...opts, moduleFile });
  writeFileSync(join(dir, "config.capnp"), configText);

  const out = openSync(opts.outputFile, "a");
  const child = spawn(workerdBinary(), ["serve", join(dir, "config.capnp")], { cwd: dir, stdio: ["ignore", out, out] });
  closeSync(out);
  const stop = async (): Promise<void> => {
    await stopProcess(child);
    rmSync(dir, { recursive: true, force: true });
  };
  const url = `http://${opts.host}:${opts.port}`;
  try {
    await waitForAnswer(url, child);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, pid: child.pid!, configText, stop };
}

async function waitForAnswer(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`workerd serve exited (${child.signalCode ?? child.exitCode})`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`workerd serve did not answer on ${url} within ${READY_TIMEOUT_MS / 1000} s`);
}

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}
