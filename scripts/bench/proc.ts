/**
 * Process accounting for the benchmark, from /proc (Linux): CPU time of the workerd serving a phase's
 * Worker, of its Node host, of the bench's Node services and of the data stores, so a phase's CPU per
 * request is (after − before) ÷ requests, role by role.
 *
 * /proc/<pid>/stat fields 14 and 15 (utime, stime) are in clock ticks (`getconf CLK_TCK`) and, read
 * for a process, cover all of its threads.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

export const CLK_TCK = readClockTicks();

/**
 * worker: the workerd serving the Worker; host: the Node process hosting its runtime; services: the
 * bench's Node servers; datastores: PostgreSQL and Redis.
 */
export type ProcRole = "worker" | "host" | "services" | "datastores";
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

/** What the benchmark reads of /proc/<pid>/stat. */
export interface Stat {
  comm: string;
  ppid: number;
  ticks: number;
}

/** /proc/<pid>/stat of one process, or null when it is gone. */
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

/** Every process's stat, by pid: one pass over /proc. */
function allStats(): Map<number, Stat> {
  const stats = new Map<number, Stat>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat) stats.set(Number(entry), stat);
  }
  return stats;
}

/** Every living descendant of `root` (children, grandchildren, …). */
export function descendants(root: number, stats: Map<number, Stat> = allStats()): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, stat] of stats) {
    const list = children.get(stat.ppid) ?? [];
    list.push(pid);
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

/** The processes a phase is charged for, by pid. */
export interface ProcRoots {
  /** The workerd serving the phase's Worker. */
  worker: number;
  /** The Node process hosting that runtime (Miniflare's host, or the child waiting on bare workerd). */
  host: number;
  /** The bench's services child: SQL-over-HTTP, Upstash REST, mail sink (and PGlite when embedded). */
  services: number;
}

/** Command names of the shared data stores: every PostgreSQL backend and Redis, whoever uses them. */
const DATASTORE_COMMS = new Set(["postgres", "redis-server"]);

/**
 * One sample of every process a phase is charged for: the runtime's workerd and its Node host, the
 * services child and its descendants, and all `postgres` and `redis-server` processes on the machine
 * (shared daemons: other people's tests on them are counted too).
 */
export function sampleProcesses(roots: ProcRoots): ProcSample[] {
  const stats = allStats();
  const samples: ProcSample[] = [];
  const add = (pid: number, role: ProcRole): void => {
    const stat = stats.get(pid);
    if (stat) samples.push({ pid, comm: stat.comm, role, cpuMs: ticksToMs(stat.ticks) });
  };
  add(roots.worker, "worker");
  add(roots.host, "host");
  add(roots.services, "services");
  for (const pid of descendants(roots.services, stats)) add(pid, "services");
  for (const [pid, stat] of stats) if (DATASTORE_COMMS.has(stat.comm)) add(pid, "datastores");
  return samples;
}

function ticksToMs(ticks: number): number {
  return (ticks * 1000) / CLK_TCK;
}

/** CPU ms per role between two samples (processes matched by pid; new ones count from zero, ones that exited in between are lost). */
export function cpuDelta(before: ProcSample[], after: ProcSample[]): Record<ProcRole, number> {
  const out: Record<ProcRole, number> = { worker: 0, host: 0, services: 0, datastores: 0 };
  const start = new Map(before.map((s) => [s.pid, s.cpuMs]));
  for (const s of after) out[s.role] += s.cpuMs - (start.get(s.pid) ?? 0);
  return out;
}

/** CPU ms the whole machine has spent busy since boot, all cores summed (/proc/stat, first line). */
function machineBusyMs(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!;
  // cpu user nice system idle iowait irq softirq steal (guest time is already in user).
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number);
  return ticksToMs(user + nice + system + irq + softirq + steal);
}

/** Ticks of `root`, all its descendants and every data-store process, by pid: what the bench itself causes. */
function benchTicks(root: number): Map<number, number> {
  const stats = allStats();
  const out = new Map<number, number>();
  for (const pid of [root, ...descendants(root, stats)]) out.set(pid, stats.get(pid)?.ticks ?? 0);
  for (const [pid, stat] of stats) if (DATASTORE_COMMS.has(stat.comm)) out.set(pid, stat.ticks);
  return out;
}

/**
 * Starts measuring the CPU that processes other than the bench's (this process, its children and
 * their workerd, PostgreSQL and Redis) use on the machine; the returned function gives it in cores,
 * averaged since the start. Other people's test suites show up here: it says how far to trust a
 * phase's figures.
 */
export function otherLoadMeter(root: number = process.pid): () => number {
  const machine0 = machineBusyMs();
  const bench0 = benchTicks(root);
  const wall0 = performance.now();
  return () => {
    const wall = performance.now() - wall0;
    // Per pid, as cpuDelta: a PostgreSQL backend that exits (an idle pool connection closed) must not
    // take its whole lifetime's CPU out of the bench's share. Its CPU within the window is lost instead.
    let benchTicksUsed = 0;
    for (const [pid, ticks] of benchTicks(root)) benchTicksUsed += ticks - (bench0.get(pid) ?? 0);
    const other = machineBusyMs() - machine0 - ticksToMs(benchTicksUsed);
    return wall > 0 ? Math.max(0, other) / wall : 0;
  };
}
