/**
 * Process accounting for the benchmark, from /proc (Linux): CPU time of the workerd processes that
 * `wrangler dev` runs, so a phase's worker CPU per request is (after − before) ÷ requests.
 *
 * /proc/<pid>/stat fields 14 and 15 (utime, stime) are in clock ticks (`getconf CLK_TCK`) and, read
 * for a process, cover all of its threads.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

export const CLK_TCK = readClockTicks();

export type ProcRole = "worker" | "proxy" | "wrangler" | "other";
export interface ProcSample {
  pid: number;
  comm: string;
  role: ProcRole;
  /** utime + stime in milliseconds. */
  cpuMs: number;
}

function readClockTicks(): number {
  try {
    const n = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
}

interface Stat {
  comm: string;
  ppid: number;
  ticks: number;
}

export function readStat(pid: number): Stat | null {
  let raw: string;
  try {
    raw = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // The command name is in parentheses and may hold spaces: split after the last ")".
  const open = raw.indexOf("(");
  const close = raw.lastIndexOf(")");
  const rest = raw.slice(close + 2).split(" ");
  // rest[0] is field 3 (state): field n is rest[n - 3].
  const utime = Number(rest[14 - 3]);
  const stime = Number(rest[15 - 3]);
  return { comm: raw.slice(open + 1, close), ppid: Number(rest[4 - 3]), ticks: utime + stime };
}

export function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  } catch {
    return [];
  }
}

/** Every living descendant of `root` (children, grandchildren, …). */
export function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (!stat) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(Number(entry));
    children.set(stat.ppid, list);
  }
  const out: number[] = [];
  const queue = [...(children.get(root) ?? [])];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

/**
 * The wrangler process and its workerd processes. `wrangler dev` runs two workerd: a proxy that owns
 * the public port (its command line has `--socket-addr=entry=<ip>:<port>` with the API's port) and the
 * one that runs the user Worker (Miniflare's entry and the Worker, on an ephemeral port).
 */
export function sampleWrangler(wranglerPid: number, apiPort: number): ProcSample[] {
  const samples: ProcSample[] = [];
  const own = readStat(wranglerPid);
  if (own) samples.push({ pid: wranglerPid, comm: own.comm, role: "wrangler", cpuMs: ticksToMs(own.ticks) });
  for (const pid of descendants(wranglerPid)) {
    const stat = readStat(pid);
    if (!stat) continue;
    if (stat.comm !== "workerd") {
      // wrangler's bin/wrangler.js starts wrangler-dist/cli.js in a second node process; esbuild and
      // other helpers are "other".
      const role = stat.comm === "node" ? "wrangler" : "other";
      samples.push({ pid, comm: stat.comm, role, cpuMs: ticksToMs(stat.ticks) });
      continue;
    }
    const isProxy = cmdline(pid).some((arg) => arg.startsWith("--socket-addr=entry=") && arg.endsWith(`:${apiPort}`));
    samples.push({ pid, comm: stat.comm, role: isProxy ? "proxy" : "worker", cpuMs: ticksToMs(stat.ticks) });
  }
  return samples;
}

function ticksToMs(ticks: number): number {
  return (ticks * 1000) / CLK_TCK;
}

/** CPU ms per role between two samples (processes matched by pid; new ones count from zero). */
export function cpuDelta(before: ProcSample[], after: ProcSample[]): Record<ProcRole, number> {
  const out: Record<ProcRole, number> = { worker: 0, proxy: 0, wrangler: 0, other: 0 };
  const start = new Map(before.map((s) => [s.pid, s.cpuMs]));
  for (const s of after) out[s.role] += s.cpuMs - (start.get(s.pid) ?? 0);
  return out;
}
