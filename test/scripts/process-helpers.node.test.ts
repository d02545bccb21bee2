/**
 * Specification of the process helpers `npm start` and the bench share (scripts/lib/): the readiness
 * wait and the child stop. Run in Node: they start real processes and a real HTTP server.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { stopChild } from "../../scripts/lib/children";
import { waitUntilReady } from "../../scripts/lib/wait-ready";

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** A server whose readiness route answers 503 `busy` `failures` times, then 200. */
async function readinessServer(failures: number): Promise<string> {
  let seen = 0;
  server = createServer((_req, res) => {
    seen += 1;
    res.writeHead(seen > failures ? 200 : 503).end(seen > failures ? "ok" : "busy");
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/health/ready`;
}

describe("waitUntilReady", () => {
  it("returns once the URL answers 200", async () => {
    const url = await readinessServer(2);
    await expect(waitUntilReady({ url, timeoutMs: 5_000, pollMs: 10 })).resolves.toBeUndefined();
  });

  it("gives up after the timeout with the last answer and the caller's detail", async () => {
    const url = await readinessServer(Number.POSITIVE_INFINITY);
    await expect(waitUntilReady({ url, timeoutMs: 200, pollMs: 20, failureDetail: () => "log tail" })).rejects.toThrow(
      "the API did not become ready within 0.2 s (last: 503 busy):\nlog tail",
    );
  });

  it("stops trying once the server process is gone", async () => {
    const url = await readinessServer(Number.POSITIVE_INFINITY);
    const started = Date.now();
    await expect(waitUntilReady({ url, timeoutMs: 10_000, pollMs: 10, alive: () => false })).rejects.toThrow(/no answer yet/);
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});

/** A Node child running `code`, once it printed its first line (after installing its handlers): that line. */
async function nodeChild(code: string, detached = false): Promise<{ child: ChildProcess; firstLine: string }> {
  const child = spawn(process.execPath, ["-e", code], { detached, stdio: ["ignore", "pipe", "inherit"] });
  const firstLine = await new Promise<string>((resolve) => child.stdout!.once("data", (chunk: Buffer) => resolve(chunk.toString().trim())));
  return { child, firstLine };
}

/** Whether `pid` is a running process (a zombie, killed but not yet reaped by its parent, is not). */
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
};

describe("stopChild", () => {
  it("sends SIGTERM to the child and resolves when it has exited", async () => {
    const { child } = await nodeChild(`process.on("SIGTERM", () => process.exit(0)); console.log("up"); setInterval(() => {}, 1000);`);
    const started = Date.now();
    await stopChild(child, { terminate: "child", killAfterMs: 10_000 });
    expect(child.exitCode).toBe(0);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("kills a child that ignores SIGTERM after killAfterMs", async () => {
    const { child } = await nodeChild(`process.on("SIGTERM", () => {}); console.log("up"); setInterval(() => {}, 1000);`);
    await stopChild(child, { terminate: "child", killAfterMs: 300 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(alive(child.pid!)).toBe(false);
  });

  it("stops a detached child's whole process group, grandchildren included", async () => {
    const { child, firstLine } = await nodeChild(
      `const c = require("node:child_process").spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });` +
        ` console.log(String(c.pid)); setInterval(() => {}, 1000);`,
      true,
    );
    const grandchild = Number(firstLine);
    expect(alive(grandchild)).toBe(true);
    await stopChild(child, { terminate: "group", killAfterMs: 2_000 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(alive(child.pid!)).toBe(false);
    expect(alive(grandchild)).toBe(false);
  });

  it("resolves at once for a child that has already exited", async () => {
    const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
    await new Promise((resolve) => child.once("exit", resolve));
    await expect(stopChild(child, { terminate: "child", killAfterMs: 10_000, sweepGroup: true })).resolves.toBeUndefined();
  });
});
