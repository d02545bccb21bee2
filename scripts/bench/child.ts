/**
 * The benchmark's child processes (scripts/bench/services.ts, scripts/bench/runtime.ts) share one
 * protocol: options as JSON in argv[2], one `READY <json>` line on stdout once up, stop on SIGTERM or
 * when stdin closes. This starts one, forwards its output to the run's log, and stops it.
 */
import { spawn } from "node:child_process";
import type { WriteStream } from "node:fs";
import { createInterface } from "node:readline";
import { stopChild } from "../lib/children";

export type ReadyChildOptions = {
  /** The TypeScript file to run (through tsx). */
  script: string;
  /** Passed as JSON in argv[2]. */
  options: unknown;
  cwd: string;
  /** Every line the child prints goes here. */
  logStream: WriteStream;
  /** Lines starting with this prefix are also shown on the console (prefix removed) until READY. */
  prefix: string;
  log: (line: string) => void;
  /** Its own process group, so that stopping it also stops what it spawned (workerd). */
  detached?: boolean;
  /** How long a graceful stop may take before SIGKILL. */
  killAfterMs: number;
};

export type ReadyChild<T> = {
  ready: T;
  pid: number;
  /** Writes one JSON line on the child's stdin. */
  send(message: unknown): void;
  stop(): Promise<void>;
};

/** Starts the child and resolves with its READY payload; rejects if it exits first. */
export function startReadyChild<T>(opts: ReadyChildOptions): Promise<ReadyChild<T>> {
  const child = spawn(process.execPath, ["--import", "tsx", opts.script, JSON.stringify(opts.options)], {
    cwd: opts.cwd,
    stdio: ["pipe", "pipe", "pipe"],
    detached: opts.detached ?? false,
  });
  child.stderr!.pipe(opts.logStream, { end: false });
  return new Promise((resolve, reject) => {
    let settled = false;
    createInterface({ input: child.stdout! }).on("line", (line) => {
      opts.logStream.write(`${line}\n`);
      if (!settled && line.startsWith("READY ")) {
        settled = true;
        resolve({
          ready: JSON.parse(line.slice("READY ".length)) as T,
          pid: child.pid!,
          send: (message) => {
            if (child.stdin?.writable) child.stdin.write(`${JSON.stringify(message)}\n`);
          },
          // SIGTERM to the child itself (it cleans up: drops its database, disposes Miniflare); a detached
          // child's group is killed at the end in case something outlived it.
          stop: () => stopChild(child, { terminate: "child", killAfterMs: opts.killAfterMs, sweepGroup: opts.detached ?? false }),
        });
      } else if (!settled && line.startsWith(opts.prefix) && !/ms$/.test(line)) {
        opts.log(line.slice(opts.prefix.length).trimStart());
      }
    });
    child.once("exit", (code, signal) => {
      if (!settled) reject(new Error(`${opts.script} stopped before it was ready (${signal ?? code}); see the log`));
    });
  });
}
